// Package store keeps the moderator's groups in one bbolt file,
// <state-dir>/moderator.db (mode 0600 in a 0700 directory). Each change of a
// group is one transaction: the MLS state after the commit, the roster
// changes, the outbox entry to deliver and the key packages consumed land
// together or not at all, so a moderator killed at any point restarts at
// its last durable epoch with nothing lost or duplicated.
//
// # Layout (schema 1)
//
//	meta/schema                          "1"
//	groups/<name>/info                   GroupInfo, JSON
//	groups/<name>/epoch                  uint64, big endian
//	groups/<name>/state                  MLS group state (secret)
//	groups/<name>/roster/<leaf>          Member, JSON; leaf uint32 big endian
//	groups/<name>/outbox/<epoch>         Outgoing, JSON; epoch uint64 big endian
//	groups/<name>/used/<not_after><ref>  key package uses; 8-byte unix time + 32-byte ref
//
// Apply refuses a change that does not follow the stored epoch
// (ErrEpoch): once a commit for an epoch is durable, no other can be.
// Failed writes say what to do: ErrDiskFull, ErrReadOnly, ErrLocked.
//
//	s, err := store.Open(dir)
//	err = s.CreateGroup(info, 0, state, []store.Member{self})
//	err = s.Apply(name, store.Change{Epoch: 1, State: state, Put: added, Outgoing: &out})
//	pending, err := s.Pending(name)
//	err = s.Delivered(name, 1)
package store
