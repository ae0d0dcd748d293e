package member

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/google/renameio/v2"

	"github.com/slimid/slimid/moderator/mls"
)

// stateFormat versions the saved layout below.
const stateFormat = 1

type savedMember struct {
	Format    int       `json:"format"`
	Group     []byte    `json:"group"`
	IssuedAt  time.Time `json:"issued_at,omitzero"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// Next is a rotation in flight that keeps the current key; one to a new
	// key is not saved (the next renewal starts it again).
	Next     *savedNext          `json:"next,omitempty"`
	Proposal []byte              `json:"proposal,omitempty"`
	Early    map[string][][]byte `json:"early,omitempty"`
	Seen     [][]byte            `json:"seen,omitempty"`
	Removed  bool                `json:"removed,omitempty"`
}

type savedNext struct {
	Token     []byte    `json:"token,omitempty"`
	Chain     [][]byte  `json:"chain,omitempty"`
	IssuedAt  time.Time `json:"issued_at,omitzero"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// State serializes the membership: the MLS group state (secret: it holds
// this member's private keys), held messages and a rotation in flight.
func (m *Member) State() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	gs, err := m.g.State()
	if err != nil {
		return nil, fmt.Errorf("member: %w", err)
	}
	s := savedMember{Format: stateFormat, Group: gs, IssuedAt: m.cred.IssuedAt, ExpiresAt: m.cred.ExpiresAt,
		Proposal: m.proposal, Removed: m.removed}
	if n := m.next; n != nil && n.Signer == m.g.Signer() {
		s.Next = &savedNext{Token: n.Credential.Identity(), Chain: n.Credential.Chain(), IssuedAt: n.IssuedAt, ExpiresAt: n.ExpiresAt}
	}
	if len(m.early) > 0 {
		s.Early = map[string][][]byte{}
		for e, msgs := range m.early {
			s.Early[strconv.FormatUint(e, 10)] = msgs
		}
	}
	for h := range m.seen {
		s.Seen = append(s.Seen, h[:])
	}
	out, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("member: encoding the state: %v", err)
	}
	return out, nil
}

// Restore rebuilds a Member from State's output.
func Restore(state []byte) (*Member, error) {
	var s savedMember
	if err := json.Unmarshal(state, &s); err != nil {
		return nil, fmt.Errorf("member: not a saved membership: %v", err)
	}
	if s.Format != stateFormat {
		return nil, fmt.Errorf("member: saved membership has format %d, want %d", s.Format, stateFormat)
	}
	g, err := mls.RestoreGroup(s.Group)
	if err != nil {
		return nil, fmt.Errorf("member: %w", err)
	}
	own, ok := g.Member(g.OwnLeaf())
	if !ok && !s.Removed {
		return nil, fmt.Errorf("member: saved membership has no leaf of its own")
	}
	m := newMember(g, Credential{Signer: g.Signer(), Credential: own.Credential, IssuedAt: s.IssuedAt, ExpiresAt: s.ExpiresAt})
	m.proposal, m.removed = s.Proposal, s.Removed
	if n := s.Next; n != nil {
		cred, err := savedCredential(n.Token, n.Chain)
		if err != nil {
			return nil, err
		}
		m.next = &Credential{Signer: g.Signer(), Credential: cred, IssuedAt: n.IssuedAt, ExpiresAt: n.ExpiresAt}
	}
	for k, msgs := range s.Early {
		e, err := strconv.ParseUint(k, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("member: saved membership holds messages for epoch %q", k)
		}
		m.early[e] = msgs
		m.earlyCount += len(msgs)
	}
	for _, h := range s.Seen {
		if len(h) != sha256.Size {
			return nil, fmt.Errorf("member: saved membership has a message hash of %d bytes", len(h))
		}
		m.seen[[32]byte(h)] = true
	}
	return m, nil
}

func savedCredential(token []byte, chain [][]byte) (mls.Credential, error) {
	var cred mls.Credential
	var err error
	if len(chain) > 0 {
		cred, err = mls.NewX509Credential(chain)
	} else {
		cred, err = mls.NewBasicCredential(token)
	}
	if err != nil {
		return mls.Credential{}, fmt.Errorf("member: saved rotation: %w", err)
	}
	return cred, nil
}

// writeFile saves data to path atomically (a synced temporary file renamed
// over it), mode 0600, for secrets such as group state; the directory is
// synced too, so the rename survives a crash.
func writeFile(path string, data []byte) error {
	if err := renameio.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("member: saving %s: %v", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
