package moderator

import (
	"context"
	"errors"
	"fmt"

	"github.com/slimid/slimid/moderator/audit"
	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/sdk"
)

// Received is what HandleMessage made of a message.
type Received struct {
	// Kind is mls.KindApplication or mls.KindProposal (an Update, now
	// committed).
	Kind mls.MessageKind
	// Sender is the sending member's subject.
	Sender string
	// Data is an application message's plaintext.
	Data []byte
	// Commit is the commit of an accepted Update, durable and handed to
	// OnCommit; it carries the proposal before the commit in Messages.
	Commit *Outgoing
}

// HandleMessage takes an MLSMessage a member sent to the group. An Update
// proposal (a member rotating its credential) is checked: its new
// credential must verify, bind the new leaf's key, and name the same
// subject and provider as the member's recorded identity (SLIM's successor
// rule). If it passes it is committed at once; if not it is dropped, the
// refusal is audited and returned (errors.Is(err, sdk.ErrRejected)). An
// application message is decrypted and returned. Commits from members are
// refused: only the moderator commits.
func (m *Moderator) HandleMessage(ctx context.Context, groupName string, msg []byte) (*Received, error) {
	h, err := mls.ParseHeader(msg)
	if err != nil {
		return nil, fmt.Errorf("moderator: group %q: %w", groupName, err)
	}
	if h.WireFormat != mls.WirePublicMessage && h.WireFormat != mls.WirePrivateMessage {
		return nil, fmt.Errorf("moderator: group %q: %w: a %s is not a group message", groupName, mls.ErrMessage, h.WireFormat)
	}
	if h.ContentType == mls.ContentCommit {
		// A PrivateMessage encrypts its sender: name the leaf only when the
		// header carries it.
		from := fmt.Sprintf("from leaf %d", h.Sender)
		if h.WireFormat == mls.WirePrivateMessage {
			from = "(sender encrypted)"
		}
		return nil, fmt.Errorf("moderator: group %q: %w", groupName,
			refuse([]error{ErrMemberCommit, sdk.ErrPolicy}, "a commit %s was refused: members propose, only the moderator commits", from))
	}
	g, err := m.group(groupName)
	if err != nil {
		return nil, err
	}
	defer g.mu.Unlock()
	got, err := g.mls.Process(msg)
	if err != nil {
		if errors.Is(err, mls.ErrDamaged) {
			m.rollback(g)
		}
		return nil, fmt.Errorf("moderator: group %q: %w", g.name, err)
	}
	sender := ""
	if r := g.roster[got.Sender]; r != nil {
		sender = r.Subject
	}
	switch got.Kind {
	case mls.KindApplication:
		return &Received{Kind: got.Kind, Sender: sender, Data: got.Data}, nil
	case mls.KindProposal:
		out, err := m.commitUpdate(ctx, g, got.Update, msg)
		if err != nil {
			return nil, err
		}
		return &Received{Kind: got.Kind, Sender: sender, Commit: out}, nil
	}
	// Process refuses everything else; a commit was refused above.
	m.rollback(g)
	return nil, fmt.Errorf("moderator: group %q: unexpected %s message", g.name, got.Kind)
}

// commitUpdate applies the successor rule to a stored Update proposal and
// commits it, or drops it.
func (m *Moderator) commitUpdate(ctx context.Context, g *group, u *mls.UpdateProposal, proposal []byte) (*Outgoing, error) {
	old := g.roster[u.Proposed.Leaf]
	if old == nil {
		m.rollback(g)
		return nil, fmt.Errorf("moderator: group %q: an Update from leaf %d, which has no roster entry", g.name, u.Proposed.Leaf)
	}
	v, err := m.verifyCredential(ctx, u.Proposed.Credential, u.Proposed.SignatureKey, g.info.Audiences, m.verifyAt())
	if err == nil {
		switch {
		case v.id.Subject != old.Subject:
			err = refuse([]error{ErrSuccessor, sdk.ErrPolicy}, "the Update from %q carries a credential for %q; a successor must keep the subject", old.Subject, v.id.Subject)
		case v.id.Provider != old.Provider:
			err = refuse([]error{ErrSuccessor, sdk.ErrPolicy}, "the Update from %q is vouched for by plugin %q, not %q as before; a successor must keep the provider", old.Subject, v.id.Provider, old.Provider)
		}
	}
	if err != nil {
		if dropErr := g.mls.DropProposal(u.Ref); dropErr != nil {
			m.rollback(g)
		}
		e := g.auditEvent(audit.UpdateRefused, old, g.mls.Epoch(), err.Error())
		if v != nil {
			e.CredentialType = v.ctype.String()
		}
		m.record(e)
		return nil, fmt.Errorf("moderator: group %q: %w", g.name, err)
	}
	commit, err := g.mls.CommitPending()
	if err != nil {
		m.rollback(g)
		return nil, fmt.Errorf("moderator: group %q: committing the Update of %q: %w", g.name, old.Subject, err)
	}
	r := v.record(u.Proposed.Leaf, old.JoinedEpoch)
	out, err := m.persist(g, change{commit: commit, proposals: [][]byte{proposal}, put: []Member{r}, reason: "update " + old.Subject})
	if err != nil {
		return nil, err
	}
	m.record(g.auditEvent(audit.Updated, &r, out.Epoch, fmt.Sprintf("credential renewed, valid until %s", timeText(r.ExpiresAt))))
	return out, nil
}

// Send encrypts an application message from the moderator. The group state
// is saved before the message is returned, so a restart never reuses a
// message key.
func (m *Moderator) Send(ctx context.Context, groupName string, data []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	g, err := m.group(groupName)
	if err != nil {
		return nil, err
	}
	defer g.mu.Unlock()
	msg, err := g.mls.Encrypt(data)
	if err != nil {
		return nil, fmt.Errorf("moderator: group %q: %w", g.name, err)
	}
	if err := m.saveState(g); err != nil {
		return nil, err
	}
	return msg, nil
}
