// Package mls is slimid's only door to MLS (RFC 9420). It wraps the
// low-level group API of github.com/thomas-vilte/mls-go v1.6.0 in a small
// typed API for SLIM-style groups: a moderator admits members after checking
// a credential bound to their signature key, commits Adds, Removes and
// Updates, and saves the group state; members join from Welcomes. Nothing
// else in slimid imports mls-go.
//
// # Suites, signers and credentials
//
// Suites 0x0001, 0x0002 (SLIM's default, P-256) and 0x0003 are accepted;
// anything else is refused with ErrUnsupportedSuite. A Signer holds the
// member's signature key, freshly generated or wrapped from an existing key,
// such as the EC P-256 key of a SPIRE X.509-SVID:
//
//	signer, err := mls.NewSigner(mls.SuiteP256AES128GCM, svid.PrivateKey)
//	pub := signer.PublicKey() // 65-byte SEC1 point; SLIM's "pubkey" claim
//
// A Credential is a BasicCredential whose identity bytes are the whole
// identity token, or an X509Credential with a DER chain whose leaf holds the
// signature key:
//
//	cred, err := mls.NewBasicCredential([]byte(token))
//	cred, err := mls.NewX509Credential(chainDER) // leaf first
//
// # Member: key package and join
//
//	bundle, err := mls.NewKeyPackage(signer, cred, mls.Lifetime{NotBefore: now, NotAfter: exp})
//	send(bundle.KeyPackage().Bytes())          // an MLSMessage (mls_key_package)
//	...
//	g, err := mls.JoinGroup(welcome, bundle)    // the Welcome carries the ratchet tree
//
// # Moderator: admit, remove, rotate
//
// DecodeKeyPackage accepts MLSMessage framing and bare KeyPackage bytes.
// Validation checks both signatures, the lifetime at a given time, the
// suite, the capabilities against the group, distinct init and encryption
// keys and the X.509 key binding; every refusal wraps ErrKeyPackage and says
// in one line what was wrong. The credential itself (token signature, subject,
// certificate chain) is the caller's to verify; its key is kp.SignatureKey().
//
//	g, err := mls.CreateGroup([]byte("org/ns/channel"), signer, cred)
//	kp, err := mls.DecodeKeyPackage(joinReply)
//	err = g.ValidateKeyPackage(kp, time.Now())
//	c, err := g.AddMembers(kp1, kp2, kp3)  // one commit, one Welcome
//	state, err := g.State()                // persist, then send c.Message and c.Welcome
//
//	c, err = g.RemoveMembers(leaf)
//	victims := g.FindMembers(func(m mls.Member) bool { return subjectOf(m.Credential) == "org/ns/bob" })
//
// A member rotates its credential (and, if it wants, its key) with an Update
// proposal that every member receives; the moderator checks the proposed
// credential, drops what it refuses, and commits the rest:
//
//	proposal, err := member.ProposeUpdate(newSigner, newCred)   // member side
//	m, err := g.Process(proposal)                               // m.Update.Proposed
//	err = g.DropProposal(m.Update.Ref)                          // if refused
//	c, err := g.CommitPending()
//
// The moderator rotates its own credential through the UpdatePath of a
// commit, never through an Update proposal of its own:
//
//	c, err := g.UpdateCredential(renewedCred)
//
// # Messages
//
// Process takes any MLSMessage for the group: application messages, Update
// proposals, and commits as PublicMessage or PrivateMessage. Commits must be
// applied in epoch order; others are refused with ErrWrongEpoch. Encrypt
// seals application data. Everyone can read Epoch, EpochAuthenticator,
// Export and Members.
//
// # Routing without decrypting
//
// ParseHeader reads what an MLSMessage says in the clear (wire format, group,
// epoch, content type, a Welcome's recipients) so that a delivery service can
// order and route messages; nothing in a Header is authenticated.
//
// # State
//
// mls-go serializes a group to JSON (group.StateData: ratchet tree, group
// context, epoch secrets, secret tree ratchets, path keys, pending
// proposals). State wraps that document together with what this package keeps
// beside it (the signature key, a leaf key mls-go does not track, this
// member's pending Update) and RestoreGroup reverses it; mls-go checks the
// tree hash and confirmation tag on restore. The state is secret: encrypt it
// at rest. Not kept: decryption keys of past epochs (late messages from
// before the saved epoch no longer decrypt).
//
// # How mls-go defects are handled
//
//   - mls-go's SelfUpdate puts the committer's own Update proposal in the
//     commit, which RFC 9420 §12.2 forbids and ts-mls rejects. It is never
//     called: a committer changes its leaf only through the UpdatePath, and
//     Process refuses commits that carry the committer's own Update.
//   - mls-go builds a committer's UpdatePath leaf from a member map whose
//     credential it never updates, so a member whose Update was committed
//     would put its old credential back at its next commit. Commit sets the
//     map from the ratchet tree first.
//   - mls-go follows a leaf key change only for its own SelfUpdate; after a
//     member's Update is committed by someone else it keeps the old HPKE key.
//     This package tracks the new key and passes it to mls-go when processing
//     commits.
//   - mls-go changes the tree before its last checks on a commit; when such a
//     check fails the group is marked damaged (ErrDamaged) and must be
//     restored from saved state instead of silently diverging.
//   - mls-go's KeyPackage functions take bare bytes while Welcomes and
//     commits are MLSMessage-framed; this package accepts and emits
//     MLSMessages and also decodes bare key packages.
//   - mls-go puts random GREASE values in the capabilities of its key
//     packages; the ones built here list exactly MLS 1.0, the group's suite
//     and both credential types, so Basic and X.509 members can share a group.
//
// Limits inherited from mls-go: a committer signs its commit and its new leaf
// with one key, so the committer cannot change its signature key (members
// can, by Update); proposals other than a member's Update of its own leaf are
// refused; application messages cannot be sent while proposals are pending;
// mls-go checks X.509 leaf certificates against the wall clock when a member
// joins, so a member whose certificate expired must rotate before others can
// join.
package mls
