package moderator

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Groups describes every group, by name.
func (m *Moderator) Groups() []GroupInfo {
	var out []GroupInfo
	for _, g := range m.allGroups() {
		g.mu.Lock()
		if !g.deleted {
			out = append(out, g.describe())
		}
		g.mu.Unlock()
	}
	return out
}

// Group describes one group.
func (m *Moderator) Group(name string) (GroupInfo, error) {
	g, err := m.group(name)
	if err != nil {
		return GroupInfo{}, err
	}
	defer g.mu.Unlock()
	return g.describe(), nil
}

// Members returns a group's roster in leaf order, the moderator included.
func (m *Moderator) Members(name string) ([]Member, error) {
	g, err := m.group(name)
	if err != nil {
		return nil, err
	}
	defer g.mu.Unlock()
	out := make([]Member, 0, len(g.roster))
	for _, l := range slices.Sorted(maps.Keys(g.roster)) {
		out = append(out, *g.roster[l])
	}
	return out, nil
}

// Pending returns a group's undelivered commits in epoch order: after a
// restart, re-send them (members ignore a commit for an epoch they have).
func (m *Moderator) Pending(name string) ([]Outgoing, error) {
	if err := m.known(name); err != nil {
		return nil, err
	}
	out, err := m.store.Pending(name)
	if err != nil {
		return nil, fmt.Errorf("moderator: %w", err)
	}
	return out, nil
}

// Delivered marks a group's commits up to and including epoch as
// delivered, so Pending no longer returns them.
func (m *Moderator) Delivered(name string, epoch uint64) error {
	if err := m.known(name); err != nil {
		return err
	}
	if err := m.store.Delivered(name, epoch); err != nil {
		return fmt.Errorf("moderator: %w", err)
	}
	return nil
}

// known checks that a group exists without locking it, for the calls
// OnCommit may make.
func (m *Moderator) known(name string) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return ErrClosed
	}
	if _, ok := m.groups[name]; !ok {
		return fmt.Errorf("moderator: %w %q", ErrUnknownGroup, name)
	}
	return nil
}

// DeleteGroup forgets a group and its state. Members are not told: the
// transport closes the channel.
func (m *Moderator) DeleteGroup(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	g, err := m.group(name)
	if err != nil {
		return err
	}
	defer g.mu.Unlock()
	if err := m.store.DeleteGroup(name); err != nil {
		return fmt.Errorf("moderator: %w", err)
	}
	g.deleted = true
	m.mu.Lock()
	delete(m.groups, name)
	m.mu.Unlock()
	m.log.Info("group deleted", "group", name)
	return nil
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return "no expiry"
	}
	return t.UTC().Format(time.RFC3339)
}
