package store

import "time"

// GroupInfo is what a group was created with.
type GroupInfo struct {
	// Name is the group's name, also its MLS group ID (for SLIM, the
	// channel name org/namespace/name).
	Name string `json:"name"`
	// Suite is the MLS ciphersuite (1, 2 or 3).
	Suite uint16 `json:"suite"`
	// Policy is the admission policy document; empty: admit every verified
	// identity.
	Policy []byte `json:"policy,omitempty"`
	// Audiences are the audiences members' tokens must name (any of);
	// empty: each plugin's configured audiences.
	Audiences []string `json:"audiences,omitempty"`
	// Plugin is the plugin entry the moderator's own tokens come from.
	Plugin    string    `json:"plugin,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Member is one roster entry: the verdict recorded when the member's
// current credential was verified, keyed by its leaf in the ratchet tree.
type Member struct {
	Leaf    uint32 `json:"leaf"`
	Subject string `json:"subject"`
	// Provider is the plugin entry that verified the credential.
	Provider string `json:"provider"`
	// CredentialType is "basic" or "x509".
	CredentialType string    `json:"credential_type"`
	Issuer         string    `json:"issuer,omitempty"`
	Audiences      []string  `json:"audiences,omitempty"`
	IssuedAt       time.Time `json:"issued_at,omitzero"`
	ExpiresAt      time.Time `json:"expires_at,omitzero"`
	// VerifiedAt is when the credential was verified; a trust change
	// verifies it again at this time.
	VerifiedAt time.Time `json:"verified_at"`
	// SignatureKey is the leaf's raw signature public key.
	SignatureKey []byte         `json:"signature_key"`
	Claims       map[string]any `json:"claims,omitempty"`
	// Token is a BasicCredential's identity bytes (the token); Chain is an
	// X509Credential's DER chain, leaf first. Kept to verify again.
	Token []byte   `json:"token,omitempty"`
	Chain [][]byte `json:"chain,omitempty"`
	// SingleUse records that the plugin consumed the token (replay cache):
	// a later "replayed" verdict on it is expected.
	SingleUse bool `json:"single_use,omitempty"`
	// Moderator marks the moderator's own leaf.
	Moderator bool `json:"moderator,omitempty"`
	// JoinedEpoch is the epoch the member joined in.
	JoinedEpoch uint64 `json:"joined_epoch"`
}

// Outgoing is one commit to deliver: an outbox entry.
type Outgoing struct {
	// Epoch is the epoch the commit starts. Members at Epoch-1 apply it.
	Epoch uint64 `json:"epoch"`
	// Messages go, in order, to every member in To: the Update proposals
	// the commit includes by reference, then the commit. All are RFC 9420
	// MLSMessages.
	Messages [][]byte `json:"messages"`
	// To are the subjects of the members at Epoch-1, the moderator excepted,
	// removed members included (the commit tells them they were removed).
	To []string `json:"to,omitempty"`
	// Welcome is the MLSMessage Welcome for WelcomeTo; nil when nobody was
	// added.
	Welcome   []byte   `json:"welcome,omitempty"`
	WelcomeTo []string `json:"welcome_to,omitempty"`
	// Removed are the subjects the commit removes.
	Removed []string `json:"removed,omitempty"`
	// Reason says what the commit does, for logs.
	Reason    string    `json:"reason"`
	CreatedAt time.Time `json:"created_at"`
}

// KeyPackageUse records a key package that was used to join, so it cannot
// be used again. It is forgotten once the key package's lifetime has ended,
// when validation refuses it anyway.
type KeyPackageUse struct {
	Ref      [32]byte
	NotAfter time.Time
}

// Group is everything durable about one group.
type Group struct {
	Info GroupInfo
	// Epoch is the last durable epoch; State is the MLS group state at it.
	// State is secret.
	Epoch uint64
	State []byte
	// Roster is ordered by leaf.
	Roster []Member
	// Outbox holds the undelivered commits, in epoch order.
	Outbox []Outgoing
	Used   []KeyPackageUse
}

// Change is one durable change of a group, written in one transaction.
type Change struct {
	// Epoch is the group's epoch after the change. With Outgoing set it must
	// be the stored epoch plus one; without, equal to it (state saved after
	// sending or receiving an application message).
	Epoch uint64
	// State is the MLS group state after the change.
	State []byte
	// Delete frees leaves, then Put stores members (leaves are reused).
	Delete []uint32
	Put    []Member
	// Outgoing is the commit that made the change.
	Outgoing *Outgoing
	// Used are key packages consumed by the change.
	Used []KeyPackageUse
	// ForgetUsedBefore drops key package uses whose lifetime ended before
	// it; zero keeps them.
	ForgetUsedBefore time.Time
}
