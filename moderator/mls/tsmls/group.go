package tsmls

import (
	"context"
)

// Group is one member's state of an MLS group, kept inside the peer.
type Group struct {
	peer   *Peer
	handle string
}

// Handle is the peer's name for the group, as seen in Validation.Group.
func (g *Group) Handle() string { return g.handle }

// Framing selects how the peer frames a commit it sends.
type Framing int

const (
	// FramingPrivate sends commits as PrivateMessage, ts-mls's default.
	FramingPrivate Framing = iota
	// FramingPublic sends commits as PublicMessage.
	FramingPublic
)

// Commit is a commit the peer made and already applied to its own state.
type Commit struct {
	// Message is the commit as MLSMessage wire bytes.
	Message []byte
	// Welcome is the Welcome for added members as MLSMessage wire bytes,
	// with the ratchet_tree extension; nil when nobody was added.
	Welcome []byte
	// Epoch is the committer's epoch after the commit.
	Epoch uint64
}

// MessageKind says what a processed message carried.
type MessageKind string

const (
	KindCommit      MessageKind = "commit"
	KindApplication MessageKind = "application"
	KindProposal    MessageKind = "proposal"
)

// Processed is the outcome of a message the peer accepted.
type Processed struct {
	Kind MessageKind
	// Plaintext is the application data, for KindApplication.
	Plaintext []byte
	// Epoch is the group's epoch after processing.
	Epoch uint64
	// Removed reports a commit that removed this member, which then stays
	// in the epoch it was removed from: it cannot derive the next one.
	Removed bool
}

// Member is a leaf of the group's ratchet tree.
type Member struct {
	LeafIndex          uint32 `json:"leaf_index"`
	CredentialType     string `json:"credential_type"`
	Identity           []byte `json:"identity"`
	SignaturePublicKey []byte `json:"signature_public_key"`
}

type groupReply struct {
	Group string `json:"group"`
	Epoch uint64 `json:"epoch"`
}

// CreateGroup starts a group whose only member is signer, with a
// BasicCredential holding identity.
func (p *Peer) CreateGroup(ctx context.Context, signer Signer, groupID, identity []byte) (*Group, error) {
	params := map[string]any{"suite": signer.Suite, "signer_id": signer.ID, "group_id": groupID, "identity": identity}
	var out groupReply
	if err := p.call(ctx, callTimeout, "create_group", params, &out); err != nil {
		return nil, err
	}
	return &Group{peer: p, handle: out.Group}, nil
}

// Join joins a group from a Welcome (MLSMessage wire bytes). An empty
// keyPackageID picks the unused key package that the Welcome addresses.
func (p *Peer) Join(ctx context.Context, welcome []byte, keyPackageID string) (*Group, error) {
	params := map[string]any{"welcome": welcome}
	if keyPackageID != "" {
		params["key_package_id"] = keyPackageID
	}
	var out groupReply
	if err := p.call(ctx, callTimeout, "join", params, &out); err != nil {
		return nil, err
	}
	return &Group{peer: p, handle: out.Group}, nil
}

// Add commits one Add proposal per key package (MLSMessage wire bytes).
func (g *Group) Add(ctx context.Context, framing Framing, keyPackages ...[]byte) (Commit, error) {
	params := map[string]any{"group": g.handle, "key_packages": keyPackages, "public_commit": framing == FramingPublic}
	return g.commit(ctx, "add", params)
}

// Remove commits one Remove proposal per leaf index.
func (g *Group) Remove(ctx context.Context, framing Framing, leaves ...uint32) (Commit, error) {
	params := map[string]any{"group": g.handle, "leaf_indices": leaves, "public_commit": framing == FramingPublic}
	return g.commit(ctx, "remove", params)
}

func (g *Group) commit(ctx context.Context, cmd string, params map[string]any) (Commit, error) {
	var out struct {
		Commit  []byte `json:"commit"`
		Welcome []byte `json:"welcome"`
		Epoch   uint64 `json:"epoch"`
	}
	err := g.peer.call(ctx, callTimeout, cmd, params, &out)
	return Commit{Message: out.Commit, Welcome: out.Welcome, Epoch: out.Epoch}, err
}

// Process applies a PublicMessage or PrivateMessage (MLSMessage wire bytes).
func (g *Group) Process(ctx context.Context, message []byte) (Processed, error) {
	var out struct {
		Kind      MessageKind `json:"kind"`
		Plaintext []byte      `json:"plaintext"`
		Epoch     uint64      `json:"epoch"`
		Removed   bool        `json:"removed"`
	}
	err := g.peer.call(ctx, callTimeout, "process", map[string]any{"group": g.handle, "message": message}, &out)
	return Processed{Kind: out.Kind, Plaintext: out.Plaintext, Epoch: out.Epoch, Removed: out.Removed}, err
}

// Send encrypts an application message; it returns MLSMessage wire bytes.
func (g *Group) Send(ctx context.Context, plaintext []byte) ([]byte, error) {
	if plaintext == nil {
		plaintext = []byte{}
	}
	var out struct {
		Message []byte `json:"message"`
	}
	err := g.peer.call(ctx, callTimeout, "send", map[string]any{"group": g.handle, "plaintext": plaintext}, &out)
	return out.Message, err
}

// Epoch is the group's current epoch.
func (g *Group) Epoch(ctx context.Context) (uint64, error) {
	var out struct {
		Epoch uint64 `json:"epoch"`
	}
	err := g.peer.call(ctx, callTimeout, "epoch", map[string]any{"group": g.handle}, &out)
	return out.Epoch, err
}

// EpochAuthenticator is the current epoch's epoch_authenticator (RFC 9420 §8.7).
func (g *Group) EpochAuthenticator(ctx context.Context) ([]byte, error) {
	var out struct {
		EpochAuthenticator []byte `json:"epoch_authenticator"`
	}
	err := g.peer.call(ctx, callTimeout, "epoch_authenticator", map[string]any{"group": g.handle}, &out)
	return out.EpochAuthenticator, err
}

// ExportSecret is MLS-Exporter(label, context, length) (RFC 9420 §8.5).
func (g *Group) ExportSecret(ctx context.Context, label string, exportContext []byte, length int) ([]byte, error) {
	if exportContext == nil {
		exportContext = []byte{}
	}
	params := map[string]any{"group": g.handle, "label": label, "context": exportContext, "length": length}
	var out struct {
		Secret []byte `json:"secret"`
	}
	err := g.peer.call(ctx, callTimeout, "export_secret", params, &out)
	return out.Secret, err
}

// Members lists the group's leaves in leaf order.
func (g *Group) Members(ctx context.Context) ([]Member, error) {
	var out struct {
		Members []Member `json:"members"`
	}
	err := g.peer.call(ctx, callTimeout, "members", map[string]any{"group": g.handle}, &out)
	return out.Members, err
}
