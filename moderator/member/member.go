package member

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"

	"github.com/slimid/slimid/moderator/mls"
)

// maxEarly bounds the messages held for later epochs, so a peer cannot
// fill memory with them.
const maxEarly = 1024

// EventKind says what Receive did with a message.
type EventKind int

// Event kinds.
const (
	// Application: an application message; Data is its plaintext.
	Application EventKind = iota + 1
	// Commit: a commit was applied; Epoch is the new epoch.
	Commit
	// Proposal: another member's Update proposal was stored for the next
	// commit.
	Proposal
	// Removed: a commit removed this member; the Member is closed.
	Removed
	// Duplicate: a handshake message for an epoch already applied, or seen
	// before, or this member's own proposal coming back; ignored.
	Duplicate
	// Buffered: a message for a later epoch, held until the commits before
	// it arrive.
	Buffered
	// Repropose: this member's Update proposal was not in the commit just
	// applied and died with its epoch; Data is a fresh proposal to send to
	// the group.
	Repropose
	// Rotated: this member's Update was committed; its new credential is
	// in force.
	Rotated
)

var kindNames = map[EventKind]string{
	Application: "application", Commit: "commit", Proposal: "proposal", Removed: "removed",
	Duplicate: "duplicate", Buffered: "buffered", Repropose: "repropose", Rotated: "rotated",
}

// String names the kind.
func (k EventKind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is one outcome of Receive.
type Event struct {
	Kind EventKind
	// Epoch is the group's epoch after the event.
	Epoch uint64
	// Sender is the sending leaf of an application message or proposal,
	// and the committer of a commit.
	Sender mls.LeafIndex
	// Data is an application message's plaintext, or the proposal to send
	// for Repropose.
	Data []byte
}

// ErrRemoved is returned once this member was removed from the group.
var ErrRemoved = mls.ErrRemoved

// Member is this process's membership in one group: it applies commits
// strictly in epoch order (holding early ones, ignoring ones already
// applied, so commits re-sent after a moderator restart are harmless),
// sends and receives application messages, and rotates its credential by
// Update proposals. Its methods are safe for concurrent use.
type Member struct {
	mu   sync.Mutex
	g    *mls.Group
	cred Credential
	// next is the credential a rotation is installing; proposal is this
	// member's pending Update proposal, to recognize its echo.
	next     *Credential
	proposal []byte
	// early holds messages for later epochs, by epoch, in arrival order.
	early      map[uint64][][]byte
	earlyCount int
	// seen holds the hashes of handshake messages applied in this epoch.
	seen    map[[32]byte]bool
	removed bool
}

// Join joins the group a Welcome invites bundle's key package to. cred is
// the credential the key package was built with.
func Join(welcome []byte, bundle *mls.KeyPackageBundle, cred Credential) (*Member, error) {
	g, err := mls.JoinGroup(welcome, bundle)
	if err != nil {
		return nil, fmt.Errorf("member: %w", err)
	}
	if cred.Signer == nil {
		cred.Signer = bundle.Signer()
	}
	return newMember(g, cred), nil
}

func newMember(g *mls.Group, cred Credential) *Member {
	return &Member{g: g, cred: cred, early: map[uint64][][]byte{}, seen: map[[32]byte]bool{}}
}

// GroupID returns the group's ID (for SLIM, the channel name).
func (m *Member) GroupID() []byte { return m.g.ID() }

// Epoch returns the current epoch.
func (m *Member) Epoch() uint64 { return m.g.Epoch() }

// EpochAuthenticator returns the epoch authenticator; every member at the
// same epoch holds the same value.
func (m *Member) EpochAuthenticator() []byte { return m.g.EpochAuthenticator() }

// Leaf returns this member's leaf index.
func (m *Member) Leaf() mls.LeafIndex { return m.g.OwnLeaf() }

// Members returns the group's members by leaf.
func (m *Member) Members() []mls.Member { return m.g.Members() }

// Credential returns the credential in force.
func (m *Member) Credential() Credential {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cred
}

// Send encrypts an application message for the group. It fails while this
// member's Update proposal is pending (MLS forbids sending then); send
// after the moderator commits it.
func (m *Member) Send(data []byte) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.removed {
		return nil, ErrRemoved
	}
	out, err := m.g.Encrypt(data)
	if err != nil {
		return nil, fmt.Errorf("member: %w", err)
	}
	return out, nil
}

// Rotate proposes to replace this member's leaf with one carrying next's
// credential (and key: a nil next.Signer keeps the current key). Send the
// returned proposal to the group; the moderator checks it and commits it.
// If a proposal is already pending, it returns nil: the newer credential is
// proposed once the pending one is committed or dies.
func (m *Member) Rotate(next Credential) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.removed {
		return nil, ErrRemoved
	}
	if next.Credential.IsZero() {
		return nil, fmt.Errorf("member: Rotate needs a credential")
	}
	if next.Signer == nil {
		next.Signer = m.g.Signer()
	}
	m.next = &next
	if m.proposal != nil {
		return nil, nil
	}
	return m.propose()
}

func (m *Member) propose() ([]byte, error) {
	p, err := m.g.ProposeUpdate(m.next.Signer, m.next.Credential)
	if err != nil {
		return nil, fmt.Errorf("member: %w", err)
	}
	m.proposal = p
	return bytes.Clone(p), nil
}

// Receive takes one MLSMessage from the group and returns what happened,
// in order: applying a commit may release messages held for the new epoch,
// whose events follow.
func (m *Member) Receive(msg []byte) ([]Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var events []Event
	err := m.receive(msg, &events)
	return events, err
}

func (m *Member) receive(msg []byte, events *[]Event) error {
	if m.removed {
		return ErrRemoved
	}
	h, err := mls.ParseHeader(msg)
	if err != nil {
		return fmt.Errorf("member: %w", err)
	}
	if h.WireFormat != mls.WirePublicMessage && h.WireFormat != mls.WirePrivateMessage {
		return fmt.Errorf("member: %w: a %s is not a group message", mls.ErrMessage, h.WireFormat)
	}
	if !bytes.Equal(h.GroupID, m.g.ID()) {
		return fmt.Errorf("member: %w: addressed to group %q, this is %q", mls.ErrMessage, h.GroupID, m.g.ID())
	}
	epoch := m.g.Epoch()
	if h.Epoch > epoch {
		if m.earlyCount >= maxEarly {
			return fmt.Errorf("member: %d messages are already held for epochs after %d; the commit to epoch %d is missing: ask for it again", maxEarly, epoch, epoch+1)
		}
		m.early[h.Epoch] = append(m.early[h.Epoch], bytes.Clone(msg))
		m.earlyCount++
		*events = append(*events, Event{Kind: Buffered, Epoch: epoch})
		return nil
	}
	if h.ContentType != mls.ContentApplication {
		sum := sha256.Sum256(msg)
		if h.Epoch < epoch || m.seen[sum] || bytes.Equal(msg, m.proposal) {
			*events = append(*events, Event{Kind: Duplicate, Epoch: epoch})
			return nil
		}
		m.seen[sum] = true
	}
	got, err := m.g.Process(msg)
	if err != nil {
		if h.ContentType != mls.ContentApplication && !errors.Is(err, mls.ErrDamaged) {
			delete(m.seen, sha256.Sum256(msg)) // refused: a later copy may be retried
		}
		return fmt.Errorf("member: %w", err)
	}
	switch got.Kind {
	case mls.KindApplication:
		*events = append(*events, Event{Kind: Application, Epoch: got.Epoch, Sender: got.Sender, Data: got.Data})
		return nil
	case mls.KindProposal:
		*events = append(*events, Event{Kind: Proposal, Epoch: got.Epoch, Sender: got.Sender})
		return nil
	}
	if got.Removed {
		m.removed = true
		*events = append(*events, Event{Kind: Removed, Epoch: got.Epoch, Sender: got.Sender})
		return nil
	}
	*events = append(*events, Event{Kind: Commit, Epoch: got.Epoch, Sender: got.Sender})
	clear(m.seen)
	m.proposal = nil
	if err := m.afterCommit(events); err != nil {
		return err
	}
	return m.drain(events)
}

// afterCommit finishes or restarts a rotation.
func (m *Member) afterCommit(events *[]Event) error {
	if m.next == nil {
		return nil
	}
	if own, ok := m.g.Member(m.g.OwnLeaf()); ok && own.Credential.Equal(m.next.Credential) {
		m.cred, m.next = *m.next, nil
		*events = append(*events, Event{Kind: Rotated, Epoch: m.g.Epoch()})
		return nil
	}
	p, err := m.propose()
	if err != nil {
		return err
	}
	*events = append(*events, Event{Kind: Repropose, Epoch: m.g.Epoch(), Data: p})
	return nil
}

// drain processes the messages held for the epoch just reached, and drops
// those for epochs now past.
func (m *Member) drain(events *[]Event) error {
	epoch := m.g.Epoch()
	for e, msgs := range m.early {
		if e < epoch {
			m.earlyCount -= len(msgs)
			delete(m.early, e)
		}
	}
	msgs := m.early[epoch]
	delete(m.early, epoch)
	m.earlyCount -= len(msgs)
	var errs []error
	for _, msg := range msgs {
		if m.removed {
			break
		}
		if err := m.receive(msg, events); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
