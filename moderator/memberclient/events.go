package memberclient

import (
	"fmt"
	"sync"
	"time"

	"github.com/slimid/slimid/moderator/mls"
)

// EventKind says what happened.
type EventKind int

// Event kinds.
const (
	// Connected: the stream to the moderator is up and the memberships it
	// proved are in Channels.
	Connected EventKind = iota + 1
	// Disconnected: the stream ended; Reason says why. The client
	// reconnects with backoff.
	Disconnected
	// KeyPackageSent: a key package was sent in answer to a JoinRequest;
	// Subject and Key name its credential and signature key.
	KeyPackageSent
	// Joined: the Welcome was applied; Epoch and Leaf are the new member's.
	Joined
	// Refused: the moderator refused a join (Of "join", Code the verdict
	// such as KEY_MISMATCH), an Update ("update") or a message ("message");
	// Reason is its one-line reason.
	Refused
	// Commit: a commit was applied; Epoch is the new epoch, Reason what it
	// did.
	Commit
	// Message: an application message from another member; Sender is its
	// subject as the moderator verified it.
	Message
	// Rotated: this member's credential update was committed.
	Rotated
	// Removed: this member left the channel; Reason says why.
	Removed
)

var kindNames = map[EventKind]string{
	Connected: "connected", Disconnected: "disconnected", KeyPackageSent: "key_package_sent", Joined: "joined",
	Refused: "refused", Commit: "commit", Message: "message", Rotated: "rotated", Removed: "removed",
}

// String names the kind.
func (k EventKind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is something that happened to the client.
type Event struct {
	Kind    EventKind
	Channel string
	Epoch   uint64
	// Sender and SenderLeaf identify a Message's sender.
	Sender     string
	SenderLeaf mls.LeafIndex
	Data       []byte
	// Subject, Key (a fingerprint) and ExpiresAt describe this member's
	// credential, for KeyPackageSent, Joined and Rotated.
	Subject   string
	Key       string
	ExpiresAt time.Time
	Leaf      mls.LeafIndex
	Reason    string
	// Of and Code qualify Refused.
	Of   string
	Code string
}

// eventBuffer bounds the events waiting for a reader; past it, events are
// dropped with a warning.
const eventBuffer = 4096

// events delivers events to the reader of Events without ever blocking the
// client.
type events struct {
	ch     chan Event
	mu     sync.Mutex
	closed bool
}

func newEvents() *events { return &events{ch: make(chan Event, eventBuffer)} }

// emit queues an event; it reports false when the buffer is full.
func (e *events) emit(ev Event) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return true
	}
	select {
	case e.ch <- ev:
		return true
	default:
		return false
	}
}

func (e *events) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.closed {
		e.closed = true
		close(e.ch)
	}
}
