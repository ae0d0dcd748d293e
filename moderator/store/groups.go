package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// CheckName refuses a group name the store cannot key on.
func CheckName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("group name is empty")
	case len(name) > maxNameBytes:
		return fmt.Errorf("group name has %d bytes, at most %d allowed", len(name), maxNameBytes)
	case !utf8.ValidString(name):
		return fmt.Errorf("group name is not valid UTF-8")
	}
	return nil
}

// CreateGroup stores a new group at epoch with its first roster, in one
// transaction.
func (s *Store) CreateGroup(info GroupInfo, epoch uint64, state []byte, roster []Member) error {
	if err := CheckName(info.Name); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	op := fmt.Sprintf("creating group %q", info.Name)
	return s.update(op, func(tx *bolt.Tx) error {
		groups := tx.Bucket(groupsBucket)
		if groups.Bucket([]byte(info.Name)) != nil {
			return fmt.Errorf("store: group %q: %w", info.Name, ErrExists)
		}
		g, err := groups.CreateBucket([]byte(info.Name))
		if err != nil {
			return err
		}
		for _, name := range [][]byte{rosterBucket, outboxBucket, usedBucket} {
			if _, err := g.CreateBucket(name); err != nil {
				return err
			}
		}
		if err := putJSON(g, infoKey, info); err != nil {
			return err
		}
		if err := g.Put(epochKey, u64(epoch)); err != nil {
			return err
		}
		if err := g.Put(stateKey, state); err != nil {
			return err
		}
		return putMembers(g.Bucket(rosterBucket), roster)
	})
}

// Apply writes one change of a group in one transaction: its MLS state and
// epoch, its roster, its outbox entry and its used key packages all land,
// or none does.
func (s *Store) Apply(group string, ch Change) error {
	op := fmt.Sprintf("saving group %q at epoch %d", group, ch.Epoch)
	return s.update(op, func(tx *bolt.Tx) error {
		g, err := groupBucket(tx, group)
		if err != nil {
			return err
		}
		stored := binary.BigEndian.Uint64(g.Get(epochKey))
		want := stored
		if ch.Outgoing != nil {
			want = stored + 1
			if ch.Outgoing.Epoch != ch.Epoch {
				return fmt.Errorf("%w: group %q: outbox entry for epoch %d in a change to epoch %d", ErrEpoch, group, ch.Outgoing.Epoch, ch.Epoch)
			}
		}
		if ch.Epoch != want {
			return fmt.Errorf("%w: group %q is durable at epoch %d; a change to epoch %d would fork it", ErrEpoch, group, stored, ch.Epoch)
		}
		if err := g.Put(epochKey, u64(ch.Epoch)); err != nil {
			return err
		}
		if err := g.Put(stateKey, ch.State); err != nil {
			return err
		}
		roster := g.Bucket(rosterBucket)
		for _, leaf := range ch.Delete {
			if err := roster.Delete(u32(leaf)); err != nil {
				return err
			}
		}
		if err := putMembers(roster, ch.Put); err != nil {
			return err
		}
		if ch.Outgoing != nil {
			if err := putJSON(g.Bucket(outboxBucket), u64(ch.Outgoing.Epoch), ch.Outgoing); err != nil {
				return err
			}
		}
		return updateUsed(g.Bucket(usedBucket), ch.Used, ch.ForgetUsedBefore)
	})
}

// Load reads everything durable about a group.
func (s *Store) Load(group string) (*Group, error) {
	var out *Group
	err := s.view(func(tx *bolt.Tx) error {
		g, err := groupBucket(tx, group)
		if err != nil {
			return err
		}
		out = &Group{Epoch: binary.BigEndian.Uint64(g.Get(epochKey)), State: bytes.Clone(g.Get(stateKey))}
		if err := getJSON(g.Get(infoKey), &out.Info); err != nil {
			return fmt.Errorf("%w: group %q info: %v", ErrCorrupt, group, err)
		}
		err = g.Bucket(rosterBucket).ForEach(func(_, v []byte) error {
			var m Member
			if err := getJSON(v, &m); err != nil {
				return fmt.Errorf("%w: group %q roster: %v", ErrCorrupt, group, err)
			}
			out.Roster = append(out.Roster, m)
			return nil
		})
		if err != nil {
			return err
		}
		if out.Outbox, err = readOutbox(g, group); err != nil {
			return err
		}
		return g.Bucket(usedBucket).ForEach(func(k, _ []byte) error {
			if len(k) != 8+32 {
				return fmt.Errorf("%w: group %q: used key package key has %d bytes", ErrCorrupt, group, len(k))
			}
			u := KeyPackageUse{NotAfter: time.Unix(int64(binary.BigEndian.Uint64(k)), 0).UTC()}
			copy(u.Ref[:], k[8:])
			out.Used = append(out.Used, u)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Groups lists the stored groups by name.
func (s *Store) Groups() ([]string, error) {
	var names []string
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(groupsBucket).ForEachBucket(func(k []byte) error {
			names = append(names, string(k))
			return nil
		})
	})
	return names, err
}

// Pending returns the undelivered outbox entries of a group in epoch order.
func (s *Store) Pending(group string) ([]Outgoing, error) {
	var out []Outgoing
	err := s.view(func(tx *bolt.Tx) error {
		g, err := groupBucket(tx, group)
		if err != nil {
			return err
		}
		out, err = readOutbox(g, group)
		return err
	})
	return out, err
}

// Delivered drops the outbox entries of a group up to and including epoch:
// members apply commits in order, so delivering one implies the earlier
// ones were delivered.
func (s *Store) Delivered(group string, epoch uint64) error {
	return s.update(fmt.Sprintf("marking group %q delivered to epoch %d", group, epoch), func(tx *bolt.Tx) error {
		g, err := groupBucket(tx, group)
		if err != nil {
			return err
		}
		c := g.Bucket(outboxBucket).Cursor()
		for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) <= epoch; k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteGroup removes a group and all its state.
func (s *Store) DeleteGroup(group string) error {
	return s.update(fmt.Sprintf("deleting group %q", group), func(tx *bolt.Tx) error {
		if _, err := groupBucket(tx, group); err != nil {
			return err
		}
		return tx.Bucket(groupsBucket).DeleteBucket([]byte(group))
	})
}

func groupBucket(tx *bolt.Tx, group string) (*bolt.Bucket, error) {
	g := tx.Bucket(groupsBucket).Bucket([]byte(group))
	if g == nil {
		return nil, fmt.Errorf("store: group %q: %w", group, ErrNotFound)
	}
	return g, nil
}

func readOutbox(g *bolt.Bucket, group string) ([]Outgoing, error) {
	var out []Outgoing
	err := g.Bucket(outboxBucket).ForEach(func(_, v []byte) error {
		var o Outgoing
		if err := getJSON(v, &o); err != nil {
			return fmt.Errorf("%w: group %q outbox: %v", ErrCorrupt, group, err)
		}
		out = append(out, o)
		return nil
	})
	return out, err
}

func putMembers(b *bolt.Bucket, members []Member) error {
	for _, m := range members {
		if err := putJSON(b, u32(m.Leaf), m); err != nil {
			return err
		}
	}
	return nil
}

// updateUsed records key package uses keyed by not_after then ref, so the
// expired ones are a prefix to cut.
func updateUsed(b *bolt.Bucket, used []KeyPackageUse, forgetBefore time.Time) error {
	for _, u := range used {
		if err := b.Put(usedKey(u), nil); err != nil {
			return err
		}
	}
	if forgetBefore.IsZero() {
		return nil
	}
	c := b.Cursor()
	for k, _ := c.First(); k != nil && int64(binary.BigEndian.Uint64(k)) < forgetBefore.Unix(); k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

func usedKey(u KeyPackageUse) []byte {
	k := make([]byte, 8, 8+32)
	binary.BigEndian.PutUint64(k, uint64(max(u.NotAfter.Unix(), 0)))
	return append(k, u.Ref[:]...)
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encoding: %v", err)
	}
	return b.Put(key, raw)
}

func getJSON(raw []byte, v any) error {
	if raw == nil {
		return fmt.Errorf("missing")
	}
	return json.Unmarshal(raw, v)
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// update runs fn in a write transaction; I/O failures are classified, the
// errors fn returns itself are passed through.
func (s *Store) update(op string, fn func(*bolt.Tx) error) error {
	var own error
	err := s.db.Update(func(tx *bolt.Tx) error {
		own = fn(tx)
		return own
	})
	if err == nil || (own != nil && errors.Is(err, own)) {
		return err
	}
	return classify(op, s.path, err)
}

func (s *Store) view(fn func(*bolt.Tx) error) error {
	return s.db.View(fn)
}

// Check verifies the database file's consistency (every page reachable
// once, no page both used and free), as bbolt's own checker does.
func (s *Store) Check() error {
	return s.view(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			return fmt.Errorf("%w: %s: %v", ErrCorrupt, s.path, errors.Join(errs...))
		}
		return nil
	})
}
