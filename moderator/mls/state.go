package mls

import (
	"encoding/json"
	"fmt"

	"github.com/thomas-vilte/mls-go/group"
)

// stateFormat versions the saved state layout below.
const stateFormat = 1

// savedGroup is the saved state: mls-go's own serialization of the group
// (group.StateData: tree, secrets, epoch, secret tree ratchets, path keys,
// pending proposals) plus what this package keeps beside it.
type savedGroup struct {
	Format  int             `json:"format"`
	Suite   Suite           `json:"suite"`
	Group   json.RawMessage `json:"group"`
	Signer  []byte          `json:"signer"`
	LeafKey []byte          `json:"leaf_key,omitempty"`
	Pending *savedUpdate    `json:"pending_update,omitempty"`
	Removed bool            `json:"removed,omitempty"`
}

type savedUpdate struct {
	Ref    []byte `json:"ref"`
	Signer []byte `json:"signer"`
	EncKey []byte `json:"enc_key"`
}

// State serializes everything needed to continue the group: epoch secrets,
// ratchet tree, secret tree ratchets, pending proposals and this member's
// private keys (including its signature key). It is secret: encrypt it at
// rest. Messages from epochs before the saved one can no longer be
// decrypted after a restore.
func (g *Group) State() ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.damaged {
		return nil, ErrDamaged
	}
	inner, err := g.g.MarshalState()
	if err != nil {
		return nil, fmt.Errorf("mls: serializing the group: %v", err)
	}
	signer, err := g.signer.marshal()
	if err != nil {
		return nil, err
	}
	s := savedGroup{Format: stateFormat, Suite: g.suite, Group: inner, Signer: signer, LeafKey: g.leafKey, Removed: g.removed}
	if p := g.pending; p != nil {
		ps, err := p.signer.marshal()
		if err != nil {
			return nil, err
		}
		s.Pending = &savedUpdate{Ref: p.ref[:], Signer: ps, EncKey: p.encKey}
	}
	out, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("mls: serializing the group: %v", err)
	}
	return out, nil
}

// RestoreGroup rebuilds a group from State's output. mls-go checks the
// restored tree against the group context and the confirmation tag against
// the epoch secrets before the group is returned.
func RestoreGroup(state []byte) (g *Group, err error) {
	defer func() {
		if r := recover(); r != nil {
			g, err = nil, faultError(ErrState, r)
		}
	}()
	var s savedGroup
	if err := json.Unmarshal(state, &s); err != nil {
		return nil, fmt.Errorf("%w: not a saved group: %v", ErrState, err)
	}
	if s.Format != stateFormat {
		return nil, fmt.Errorf("%w: format %d is not supported (want %d)", ErrState, s.Format, stateFormat)
	}
	if err := s.Suite.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrState, err)
	}
	signer, err := parseSigner(s.Suite, s.Signer)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrState, err)
	}
	mg, err := group.UnmarshalGroupState(s.Group)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrState, err)
	}
	if Suite(mg.CipherSuite()) != s.Suite {
		return nil, fmt.Errorf("%w: the group uses ciphersuite 0x%04x, the saved suite is 0x%04x", ErrState, uint16(mg.CipherSuite()), uint16(s.Suite))
	}
	g = &Group{g: mg, suite: s.Suite, signer: signer, leafKey: s.LeafKey, removed: s.Removed}
	if p := s.Pending; p != nil {
		ps, err := parseSigner(s.Suite, p.Signer)
		if err != nil {
			return nil, fmt.Errorf("%w: pending update: %v", ErrState, err)
		}
		if len(p.Ref) != len(ProposalRef{}) || len(p.EncKey) == 0 {
			return nil, fmt.Errorf("%w: pending update is incomplete", ErrState)
		}
		g.pending = &ownUpdate{signer: ps, encKey: p.EncKey}
		copy(g.pending.ref[:], p.Ref)
	}
	return g, nil
}
