package moderator

import (
	"context"
	"fmt"
	"slices"

	"github.com/slimid/slimid/moderator/audit"
	"github.com/slimid/slimid/moderator/mls"
)

// Remove removes the member with the given subject in one commit, durable
// (and handed to OnCommit) before it returns. reason is recorded in the
// audit event; empty means "removed by an operator". Deliver the commit's
// Messages to To, which includes the removed member.
func (m *Moderator) Remove(ctx context.Context, groupName, subject, reason string) (*Outgoing, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	g, err := m.group(groupName)
	if err != nil {
		return nil, err
	}
	defer g.mu.Unlock()
	r := g.bySubject(subject)
	switch {
	case r == nil:
		return nil, fmt.Errorf("moderator: group %q: %q is %w", g.name, subject, ErrNotMember)
	case r.Moderator:
		return nil, fmt.Errorf("moderator: group %q: %q is the moderator, which cannot remove itself; delete the group instead", g.name, subject)
	}
	if reason == "" {
		reason = "removed by an operator"
	}
	return m.removeLeaves(g, []mls.LeafIndex{mls.LeafIndex(r.Leaf)}, audit.Removed, func(*Member) string { return reason })
}

// removeLeaves removes members in one commit and records one audit event of
// the given kind for each, with the reason why(member).
func (m *Moderator) removeLeaves(g *group, leaves []mls.LeafIndex, kind audit.Kind, why func(*Member) string) (*Outgoing, error) {
	slices.Sort(leaves)
	removed := make([]*Member, len(leaves))
	ch := change{del: leaves}
	for i, l := range leaves {
		removed[i] = g.roster[l]
		ch.removed = append(ch.removed, removed[i].Subject)
	}
	commit, err := g.mls.RemoveMembers(leaves...)
	if err != nil {
		m.rollback(g)
		return nil, fmt.Errorf("moderator: group %q: removing %v: %w", g.name, ch.removed, err)
	}
	ch.commit = commit
	ch.reason = fmt.Sprintf("%s %d", kind, len(leaves))
	out, err := m.persist(g, ch)
	if err != nil {
		return nil, err
	}
	for _, r := range removed {
		m.record(g.auditEvent(kind, r, out.Epoch, why(r)))
	}
	m.log.Info("members removed", "group", g.name, "epoch", out.Epoch, "subjects", ch.removed, "event", kind)
	return out, nil
}
