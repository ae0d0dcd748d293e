package mls

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/thomas-vilte/mls-go/group"
	"github.com/thomas-vilte/mls-go/treesync"
)

// LeafIndex is a member's position in the ratchet tree.
type LeafIndex uint32

// Member is one member of a group as its current leaf node describes it.
type Member struct {
	Leaf         LeafIndex
	Credential   Credential
	SignatureKey []byte
}

// Group is this member's view of one MLS group, on top of mls-go's group
// API. Its methods are safe for concurrent use; they run one at a time.
// MLS work is CPU-bound and never waits on I/O, so no method takes a context.
type Group struct {
	mu     sync.Mutex
	g      *group.Group
	suite  Suite
	signer *Signer
	// leafKey is this member's leaf HPKE private key when mls-go's copy is
	// stale: mls-go only follows leaf changes made by its own SelfUpdate, so
	// after another member commits this member's Update proposal it keeps the
	// old key. Nil when mls-go's copy is current.
	leafKey []byte
	// pending is this member's own Update proposal awaiting a commit.
	pending *ownUpdate
	removed bool
	damaged bool
}

// CreateGroup starts a group whose only member is the caller, with the given
// group ID (for SLIM, the channel name) and credential.
func CreateGroup(id []byte, signer *Signer, cred Credential) (*Group, error) {
	if len(id) == 0 {
		return nil, fmt.Errorf("mls: group ID is empty")
	}
	bundle, err := creatorKeyPackage(signer, cred)
	if err != nil {
		return nil, err
	}
	mg, err := group.NewGroup(group.NewGroupID(bytes.Clone(id)), signer.suite.mls(), bundle.kp.kp, bundle.privateKeys())
	if err != nil {
		return nil, fmt.Errorf("mls: creating the group: %v", err)
	}
	return &Group{g: mg, suite: signer.suite, signer: signer}, nil
}

// ID returns the group ID.
func (g *Group) ID() []byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	return bytes.Clone(g.g.ID().AsSlice())
}

// Suite returns the group's ciphersuite.
func (g *Group) Suite() Suite { return g.suite }

// Epoch returns the current epoch.
func (g *Group) Epoch() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.g.Epoch().AsUint64()
}

// OwnLeaf returns this member's leaf index.
func (g *Group) OwnLeaf() LeafIndex {
	g.mu.Lock()
	defer g.mu.Unlock()
	return LeafIndex(g.g.OwnLeafIndex())
}

// Signer returns the signer of this member's current leaf.
func (g *Group) Signer() *Signer {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.signer
}

// EpochAuthenticator returns the epoch authenticator (RFC 9420 §8.7); all
// members in the same epoch hold the same value.
func (g *Group) EpochAuthenticator() []byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.g.EpochAuthenticator()
}

// Export derives length bytes from the epoch's exporter secret (RFC 9420
// §8.5) under label and context.
func (g *Group) Export(label string, context []byte, length int) ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.usable(); err != nil {
		return nil, err
	}
	if length <= 0 || length > 255*32 {
		return nil, fmt.Errorf("mls: export length %d is out of range 1..%d", length, 255*32)
	}
	out, err := g.g.Export(label, context, length)
	if err != nil {
		return nil, fmt.Errorf("mls: export: %v", err)
	}
	return out, nil
}

// Members returns the members ordered by leaf index.
func (g *Group) Members() []Member {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.members()
}

// Member returns the member at leaf, if that leaf is occupied.
func (g *Group) Member(leaf LeafIndex) (Member, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.member(leaf)
}

// FindMembers returns the members for which match returns true, for example
// those whose credential identity names a given subject.
func (g *Group) FindMembers(match func(Member) bool) []Member {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []Member
	for _, m := range g.members() {
		if match(m) {
			out = append(out, m)
		}
	}
	return out
}

// Requirements returns what the group asks of a key package at time now:
// its suite, the credential types its members use and accept, and the
// extensions its context carries. Set MaxLifetime before validating if the
// application bounds key package lifetimes.
func (g *Group) Requirements(now time.Time) Requirements {
	g.mu.Lock()
	defer g.mu.Unlock()
	req := Requirements{Suite: g.suite, Now: now, AcceptedCredentialTypes: []CredentialType{CredentialBasic, CredentialX509}}
	for _, leaf := range g.leaves() {
		t := CredentialType(leaf.data.Credential.CredentialType)
		if !slices.Contains(req.CredentialTypes, t) {
			req.CredentialTypes = append(req.CredentialTypes, t)
		}
		var caps []uint16
		if leaf.data.Capabilities != nil {
			caps = leaf.data.Capabilities.Credentials
		}
		req.AcceptedCredentialTypes = slices.DeleteFunc(req.AcceptedCredentialTypes, func(t CredentialType) bool {
			return !slices.Contains(caps, uint16(t))
		})
	}
	for _, ext := range g.g.GroupContext().Extensions {
		if uint16(ext.Type) > lastDefaultExtension && !slices.Contains(req.Extensions, uint16(ext.Type)) {
			req.Extensions = append(req.Extensions, uint16(ext.Type))
		}
	}
	return req
}

// lastDefaultExtension is external_senders (5); RFC 9420 §7.2 extension
// types up to it are default and never listed in capabilities.
const lastDefaultExtension = 0x0005

// ValidateKeyPackage checks a key package against the group at time now (see
// KeyPackage.Validate). Call it before inviting the key package's owner.
func (g *Group) ValidateKeyPackage(kp *KeyPackage, now time.Time) error {
	return kp.Validate(g.Requirements(now))
}

type treeLeaf struct {
	index LeafIndex
	data  *treesync.LeafNodeData
}

// leaves returns the occupied leaves ordered by index. mls-go's member map
// tracks which leaves are occupied; the tree holds their current content
// (the map's credentials go stale after Updates).
func (g *Group) leaves() []treeLeaf {
	var out []treeLeaf
	g.g.IterateMembers(func(idx group.LeafNodeIndex, m *group.Member) {
		if m == nil || !m.Active {
			return
		}
		node := g.g.GetTreeLeaf(idx)
		if node == nil || node.State != treesync.NodeStatePresent || node.LeafData == nil || node.LeafData.Credential == nil {
			return
		}
		out = append(out, treeLeaf{index: LeafIndex(idx), data: node.LeafData})
	})
	slices.SortFunc(out, func(a, b treeLeaf) int { return cmp.Compare(a.index, b.index) })
	return out
}

func (g *Group) members() []Member {
	leaves := g.leaves()
	out := make([]Member, 0, len(leaves))
	for _, l := range leaves {
		out = append(out, memberFromLeaf(l.index, l.data))
	}
	return out
}

func (g *Group) member(leaf LeafIndex) (Member, bool) {
	m, ok := g.g.GetMember(group.LeafNodeIndex(leaf))
	if !ok || m == nil || !m.Active {
		return Member{}, false
	}
	node := g.g.GetTreeLeaf(group.LeafNodeIndex(leaf))
	if node == nil || node.State != treesync.NodeStatePresent || node.LeafData == nil || node.LeafData.Credential == nil {
		return Member{}, false
	}
	return memberFromLeaf(leaf, node.LeafData), true
}

// memberFromLeaf describes a tree leaf. Leaves were validated when they
// entered the tree; a credential that does not convert keeps its type only.
func memberFromLeaf(idx LeafIndex, leaf *treesync.LeafNodeData) Member {
	cred, err := credentialFromMLS(leaf.Credential)
	if err != nil {
		cred = Credential{typ: CredentialType(leaf.Credential.CredentialType)}
	}
	return Member{Leaf: idx, Credential: cred, SignatureKey: bytes.Clone(leaf.SigKeyBytes())}
}

// usable refuses work on a group this member left or whose state broke.
func (g *Group) usable() error {
	switch {
	case g.removed:
		return ErrRemoved
	case g.damaged:
		return ErrDamaged
	}
	return nil
}

// checkAfterFailure marks the group damaged when a failed operation left
// mls-go's state inconsistent (it mutates the tree before its last checks).
func (g *Group) checkAfterFailure(epochBefore uint64) {
	if g.g.Epoch().AsUint64() != epochBefore || g.g.ValidateRestoredState() != nil {
		g.damaged = true
	}
}
