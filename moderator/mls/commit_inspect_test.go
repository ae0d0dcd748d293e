package mls_test

import (
	"testing"

	"github.com/thomas-vilte/mls-go/framing"
	"github.com/thomas-vilte/mls-go/group"
)

// requireNoCommitterUpdate decodes a PublicMessage commit with mls-go and
// fails if it carries an Update proposal by value: proposals by value are
// the committer's own, and RFC 9420 §12.2 forbids a committer's own Update.
func requireNoCommitterUpdate(t testing.TB, msg []byte) {
	t.Helper()
	m, err := framing.UnmarshalMLSMessage(msg)
	if err != nil || m.PublicMessage == nil {
		t.Fatalf("commit is not a PublicMessage: %v", err)
	}
	body, ok := m.PublicMessage.Content.Body.(framing.CommitBody)
	if !ok {
		t.Fatalf("message is not a commit")
	}
	c, err := group.UnmarshalCommit(body.Data)
	if err != nil {
		t.Fatalf("decoding the commit: %v", err)
	}
	if c.Path == nil {
		t.Fatalf("the commit has no UpdatePath")
	}
	for _, p := range c.Proposals {
		if p.Proposal != nil && p.Proposal.Type == group.ProposalTypeUpdate {
			t.Fatalf("the commit carries the committer's own Update proposal")
		}
	}
}
