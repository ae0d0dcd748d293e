package moderator

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/moderator/store"
)

// GroupSpec describes a new group and the moderator's place in it.
type GroupSpec struct {
	// Name is the group's name and MLS group ID; for SLIM, the channel name
	// org/namespace/name.
	Name string
	// Suite is the MLS ciphersuite: mls.SuiteX25519AES128GCM (1),
	// mls.SuiteP256AES128GCM (2, SLIM's default) or
	// mls.SuiteX25519ChaCha20Poly1305 (3).
	Suite mls.Suite
	// Policy is the admission policy document (see moderator/policy); nil
	// admits every verified identity, as SLIM does.
	Policy []byte
	// Audiences are the audiences members' tokens must name (any of); empty
	// leaves it to each plugin's configured audiences. The moderator's own
	// renewed tokens are requested for them too.
	Audiences []string
	// Plugin is the plugin entry the moderator's credential came from; its
	// renewals are fetched there (Config.Tokens).
	Plugin string
	// Signer is the moderator's signature key, for Suite.
	Signer *mls.Signer
	// Credential is the moderator's own credential: a BasicCredential whose
	// token binds Signer's public key. The moderator is the first member.
	Credential mls.Credential
}

// GroupInfo describes a group.
type GroupInfo struct {
	Name  string
	Suite mls.Suite
	// Epoch is the last durable epoch; EpochAuthenticator is the RFC 9420
	// §8.7 value every member at this epoch shares.
	Epoch              uint64
	EpochAuthenticator []byte
	// Members counts the members, the moderator included.
	Members   int
	Audiences []string
	Policy    []byte
	Plugin    string
	CreatedAt time.Time
}

// CreateGroup creates a group whose first member is the moderator. Its
// credential is verified like any member's and must bind Signer's key.
func (m *Moderator) CreateGroup(ctx context.Context, spec GroupSpec) (GroupInfo, error) {
	if err := store.CheckName(spec.Name); err != nil {
		return GroupInfo{}, fmt.Errorf("moderator: %w", err)
	}
	if err := spec.Suite.Validate(); err != nil {
		return GroupInfo{}, fmt.Errorf("moderator: group %q: %w", spec.Name, err)
	}
	if spec.Signer == nil || spec.Signer.Suite() != spec.Suite {
		return GroupInfo{}, fmt.Errorf("moderator: group %q: the moderator's signer must be for suite %s", spec.Name, spec.Suite)
	}
	pol, err := parsePolicy(spec.Policy)
	if err != nil {
		return GroupInfo{}, fmt.Errorf("moderator: group %q: %w", spec.Name, err)
	}
	v, err := m.verifyCredential(ctx, spec.Credential, spec.Signer.PublicKey(), spec.Audiences, m.verifyAt())
	if err != nil {
		return GroupInfo{}, fmt.Errorf("moderator: group %q: the moderator's own credential: %w", spec.Name, err)
	}
	mg, err := mls.CreateGroup([]byte(spec.Name), spec.Signer, spec.Credential)
	if err != nil {
		return GroupInfo{}, fmt.Errorf("moderator: group %q: %w", spec.Name, err)
	}
	state, err := mg.State()
	if err != nil {
		return GroupInfo{}, fmt.Errorf("moderator: group %q: %w", spec.Name, err)
	}
	self := v.record(mg.OwnLeaf(), mg.Epoch())
	self.Moderator = true
	info := store.GroupInfo{
		Name: spec.Name, Suite: uint16(spec.Suite), Policy: slices.Clone(spec.Policy),
		Audiences: slices.Clone(spec.Audiences), Plugin: spec.Plugin, CreatedAt: m.now(),
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return GroupInfo{}, ErrClosed
	}
	if _, ok := m.groups[spec.Name]; ok {
		return GroupInfo{}, fmt.Errorf("moderator: group %q: %w", spec.Name, ErrGroupExists)
	}
	if err := m.store.CreateGroup(info, mg.Epoch(), state, []store.Member{self}); err != nil {
		return GroupInfo{}, fmt.Errorf("moderator: %w", err)
	}
	g := &group{
		name: spec.Name, info: info, mls: mg, policy: pol,
		roster: map[mls.LeafIndex]*store.Member{mls.LeafIndex(self.Leaf): &self},
		used:   map[mls.KeyPackageRef]time.Time{}, warned: map[mls.LeafIndex]time.Time{},
	}
	m.groups[spec.Name] = g
	m.log.Info("group created", "group", spec.Name, "suite", spec.Suite, "moderator", self.Subject)
	return g.describe(), nil
}

// describe summarizes the group; the caller holds its lock.
func (g *group) describe() GroupInfo {
	return GroupInfo{
		Name: g.name, Suite: mls.Suite(g.info.Suite), Epoch: g.mls.Epoch(), EpochAuthenticator: g.mls.EpochAuthenticator(),
		Members: len(g.roster), Audiences: slices.Clone(g.info.Audiences), Policy: slices.Clone(g.info.Policy),
		Plugin: g.info.Plugin, CreatedAt: g.info.CreatedAt,
	}
}
