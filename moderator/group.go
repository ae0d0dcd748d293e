package moderator

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/slimid/slimid/moderator/audit"
	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/moderator/policy"
	"github.com/slimid/slimid/moderator/store"
)

// group is one group in memory: its MLS state, roster and the key packages
// used to join it, always equal to what the store holds once a call returns.
type group struct {
	mu     sync.Mutex
	name   string
	info   store.GroupInfo
	mls    *mls.Group
	policy *policy.Policy
	roster map[mls.LeafIndex]*store.Member
	used   map[mls.KeyPackageRef]time.Time
	// warned is the expiry each member was last warned about.
	warned map[mls.LeafIndex]time.Time
	// undelivered counts outbox entries at load time, for the log.
	undelivered int
	// broken is set when a failed write could not be rolled back in
	// memory; the group refuses every call until a restart reloads it.
	broken  error
	deleted bool
}

// loadGroup rebuilds a group from its durable state and checks that the
// roster matches the ratchet tree.
func (m *Moderator) loadGroup(name string) (*group, error) {
	sg, err := m.store.Load(name)
	if err != nil {
		return nil, err
	}
	g := &group{name: name, info: sg.Info, warned: map[mls.LeafIndex]time.Time{}, undelivered: len(sg.Outbox)}
	if err := g.reset(sg); err != nil {
		return nil, err
	}
	if g.policy, err = parsePolicy(sg.Info.Policy); err != nil {
		return nil, fmt.Errorf("group %q: stored %w", name, err)
	}
	return g, nil
}

// reset replaces the group's MLS state, roster and used key packages with
// the durable ones.
func (g *group) reset(sg *store.Group) error {
	mg, err := mls.RestoreGroup(sg.State)
	if err != nil {
		return fmt.Errorf("group %q: %w", g.name, err)
	}
	if mg.Epoch() != sg.Epoch {
		return fmt.Errorf("group %q: %w: MLS state is at epoch %d, the store says %d", g.name, store.ErrCorrupt, mg.Epoch(), sg.Epoch)
	}
	roster := make(map[mls.LeafIndex]*store.Member, len(sg.Roster))
	for i := range sg.Roster {
		r := &sg.Roster[i]
		roster[mls.LeafIndex(r.Leaf)] = r
	}
	members := mg.Members()
	if len(members) != len(roster) {
		return fmt.Errorf("group %q: %w: %d leaves in the ratchet tree, %d in the roster", g.name, store.ErrCorrupt, len(members), len(roster))
	}
	for _, mem := range members {
		r, ok := roster[mem.Leaf]
		if !ok || string(r.SignatureKey) != string(mem.SignatureKey) {
			return fmt.Errorf("group %q: %w: leaf %d differs between the ratchet tree and the roster", g.name, store.ErrCorrupt, mem.Leaf)
		}
	}
	used := make(map[mls.KeyPackageRef]time.Time, len(sg.Used))
	for _, u := range sg.Used {
		used[u.Ref] = u.NotAfter
	}
	g.mls, g.roster, g.used = mg, roster, used
	return nil
}

func parsePolicy(doc []byte) (*policy.Policy, error) {
	if len(doc) == 0 {
		return policy.Default(), nil
	}
	return policy.Parse(doc)
}

// bySubject returns the member with the subject, if any.
func (g *group) bySubject(subject string) *store.Member {
	for _, r := range g.roster {
		if r.Subject == subject {
			return r
		}
	}
	return nil
}

// self returns the moderator's own roster entry.
func (g *group) self() *store.Member {
	return g.roster[g.mls.OwnLeaf()]
}

// recipients are the subjects a commit goes to: every member but the
// moderator, in leaf order.
func (g *group) recipients() []string {
	leaves := slices.Sorted(maps.Keys(g.roster))
	out := make([]string, 0, len(leaves))
	for _, l := range leaves {
		if r := g.roster[l]; !r.Moderator {
			out = append(out, r.Subject)
		}
	}
	return out
}

// change is a commit the moderator made and what it does to the roster.
type change struct {
	commit    *mls.Commit
	proposals [][]byte // Update proposals the commit includes, sent before it
	put       []store.Member
	del       []mls.LeafIndex
	used      []store.KeyPackageUse
	welcomeTo []string
	removed   []string
	reason    string
}

// persist makes a commit durable (MLS state, roster, outbox entry and used
// key packages in one transaction), then updates the roster in memory and
// hands the entry to OnCommit. If the write fails, the group goes back to
// its last durable state and the commit is forgotten: it was never
// delivered, so no member ever sees it.
func (m *Moderator) persist(g *group, ch change) (*Outgoing, error) {
	out := &Outgoing{
		Epoch:     ch.commit.Epoch,
		Messages:  append(slices.Clone(ch.proposals), ch.commit.Message),
		To:        g.recipients(),
		Welcome:   ch.commit.Welcome,
		WelcomeTo: ch.welcomeTo,
		Removed:   ch.removed,
		Reason:    ch.reason,
		CreatedAt: m.now(),
	}
	state, err := g.mls.State()
	if err == nil {
		del := make([]uint32, len(ch.del))
		for i, l := range ch.del {
			del[i] = uint32(l)
		}
		err = m.store.Apply(g.name, store.Change{
			Epoch: out.Epoch, State: state, Delete: del, Put: ch.put, Outgoing: out,
			Used: ch.used, ForgetUsedBefore: m.now(),
		})
	}
	if err != nil {
		m.rollback(g)
		return nil, fmt.Errorf("moderator: group %q: the commit to epoch %d was dropped: %w", g.name, out.Epoch, err)
	}
	for _, l := range ch.del {
		delete(g.roster, l)
		delete(g.warned, l)
	}
	for i := range ch.put {
		r := ch.put[i]
		g.roster[mls.LeafIndex(r.Leaf)] = &r
		delete(g.warned, mls.LeafIndex(r.Leaf))
	}
	now := m.now()
	for _, u := range ch.used {
		g.used[u.Ref] = u.NotAfter
	}
	maps.DeleteFunc(g.used, func(_ mls.KeyPackageRef, notAfter time.Time) bool { return notAfter.Before(now) })
	if m.cfg.OnCommit != nil {
		m.cfg.OnCommit(g.name, *out)
	}
	return out, nil
}

// saveState writes the MLS state at the same epoch, after sending an
// application message (its sender ratchet must never be reused).
func (m *Moderator) saveState(g *group) error {
	state, err := g.mls.State()
	if err == nil {
		err = m.store.Apply(g.name, store.Change{Epoch: g.mls.Epoch(), State: state})
	}
	if err != nil {
		m.rollback(g)
		return fmt.Errorf("moderator: group %q: %w", g.name, err)
	}
	return nil
}

// rollback returns the group to its durable state after a failed write or
// a failed MLS operation.
func (m *Moderator) rollback(g *group) {
	sg, err := m.store.Load(g.name)
	if err == nil {
		err = g.reset(sg)
	}
	if err != nil {
		g.broken = err
		m.log.Error("group state could not be reloaded after a failure; it refuses calls until restart", "group", g.name, "error", err)
	}
}

// auditEvent fills an event for a roster entry.
func (g *group) auditEvent(kind audit.Kind, r *store.Member, epoch uint64, reason string) audit.Event {
	e := audit.Event{Kind: kind, Group: g.name, Epoch: epoch, Reason: reason}
	if r != nil {
		e.Subject, e.Provider, e.CredentialType = r.Subject, r.Provider, r.CredentialType
	}
	return e
}
