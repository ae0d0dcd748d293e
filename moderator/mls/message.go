package mls

import (
	"errors"
	"fmt"

	"github.com/thomas-vilte/mls-go/framing"
	"github.com/thomas-vilte/mls-go/group"
)

// Encrypt seals application data for the group as an MLSMessage
// (PrivateMessage). mls-go refuses while proposals are pending: they must be
// committed first.
func (g *Group) Encrypt(data []byte) ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.usable(); err != nil {
		return nil, err
	}
	pm, err := g.g.SendMessage(data, g.signer.key)
	if errors.Is(err, group.ErrPendingProposals) {
		return nil, fmt.Errorf("mls: cannot send application data while proposals are pending; they must be committed first")
	}
	if err != nil {
		return nil, fmt.Errorf("mls: encrypting: %v", err)
	}
	return framing.NewMLSMessagePrivate(pm).Marshal(), nil
}
