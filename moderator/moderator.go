package moderator

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/slimid/slimid/moderator/audit"
	"github.com/slimid/slimid/moderator/store"
	"github.com/slimid/slimid/sdk"
)

// Verifier checks identity tokens. *broker.Broker (in process) and
// *brokerclient.Client (the broker's API) both satisfy it.
type Verifier interface {
	Verify(ctx context.Context, plugin string, req sdk.VerifyRequest) (sdk.Identity, error)
}

// X509Verifier checks X.509 certificate chains at a given time. It is
// optional: a Verifier that also has this method can admit members with
// X509Credentials. *broker.Broker has it.
type X509Verifier interface {
	VerifyX509(ctx context.Context, plugin string, chain []*x509.Certificate, at time.Time) (sdk.Identity, error)
}

// TrustWatcher reports plugins whose keys, bundles or configuration changed.
// It is optional: with it, Run re-verifies the members those plugins
// vouched for. *broker.Broker has it.
type TrustWatcher interface {
	WatchTrust(ctx context.Context, fn func(plugins []string))
}

// TokenFetcher mints tokens for the moderator's own credential.
// *broker.Broker and *brokerclient.Client both satisfy it.
type TokenFetcher interface {
	FetchToken(ctx context.Context, plugin string, req sdk.TokenRequest) (sdk.Token, error)
}

// Member is a roster entry: the verdict recorded for a member's current
// credential. Moderator is true for the moderator's own leaf.
type Member = store.Member

// Outgoing is a durable commit awaiting delivery (an outbox entry).
type Outgoing = store.Outgoing

// Config is what a Moderator needs.
type Config struct {
	// StateDir holds moderator.db (mode 0600 in a 0700 directory). The file
	// holds MLS secrets: protect it as a private key (encryption at rest is
	// the file system's).
	StateDir string
	// Verifier checks members' credentials. Required.
	Verifier Verifier
	// Tokens fetches the moderator's renewed credentials. Without it the
	// moderator's own credential is never renewed.
	Tokens TokenFetcher
	// Audit receives every admission, refusal, removal and update. Default:
	// audit.Discard.
	Audit audit.Sink
	// Logger receives operational logs. Default: discarded.
	Logger *slog.Logger
	// Clock is the current time. Default time.Now. When set, credentials are
	// verified at Clock() (sdk.VerifyRequest.At), which bypasses the
	// broker's verdict cache; tests use it to move time.
	Clock func() time.Time
	// ExpiryGrace is how long after its credential expires an unrenewed
	// member stays before it is removed. Default 1m.
	ExpiryGrace time.Duration
	// ExpiryWarning is how long before expiry an unrenewed member is
	// reported (a warning in the log). Default 5m.
	ExpiryWarning time.Duration
	// SweepInterval is how often Run checks expiries and renewals.
	// Default 1s.
	SweepInterval time.Duration
	// OnCommit is called with every commit once it is durable, in epoch
	// order per group: admissions, removals, committed Updates and lifecycle
	// commits alike. It runs while the group is locked: hand the entry off
	// and return; do not call the Moderator for the same group from it,
	// except Pending and Delivered.
	OnCommit func(group string, out Outgoing)
}

// Moderator runs SLIM groups: it admits members whose key-bound
// credentials verify and whom the group's policy admits, removes members,
// commits their credential rotations, and removes those whose credentials
// expire unrenewed or lose trust. Every group change is durable before it is
// returned or delivered.
type Moderator struct {
	cfg   Config
	log   *slog.Logger
	audit audit.Sink
	store *store.Store

	mu     sync.RWMutex
	groups map[string]*group
	closed bool
}

const (
	defaultGrace   = time.Minute
	defaultWarning = 5 * time.Minute
	defaultSweep   = time.Second
)

// Open opens the state directory and loads every group in it, each at its
// last durable epoch with its undelivered outbox.
func Open(ctx context.Context, cfg Config) (*Moderator, error) {
	if cfg.Verifier == nil {
		return nil, fmt.Errorf("moderator: Config.Verifier is required")
	}
	if cfg.StateDir == "" {
		return nil, fmt.Errorf("moderator: Config.StateDir is required")
	}
	if cfg.ExpiryGrace < 0 || cfg.ExpiryWarning < 0 || cfg.SweepInterval < 0 {
		return nil, fmt.Errorf("moderator: ExpiryGrace, ExpiryWarning and SweepInterval must not be negative")
	}
	cfg.ExpiryGrace = cmpDefault(cfg.ExpiryGrace, defaultGrace)
	cfg.ExpiryWarning = cmpDefault(cfg.ExpiryWarning, defaultWarning)
	cfg.SweepInterval = cmpDefault(cfg.SweepInterval, defaultSweep)
	m := &Moderator{cfg: cfg, log: cfg.Logger, audit: cfg.Audit, groups: map[string]*group{}}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.audit == nil {
		m.audit = audit.Discard
	}
	st, err := store.Open(cfg.StateDir)
	if err != nil {
		return nil, fmt.Errorf("moderator: %w", err)
	}
	m.store = st
	names, err := st.Groups()
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("moderator: %w", err)
	}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			st.Close()
			return nil, err
		}
		g, err := m.loadGroup(name)
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("moderator: %w", err)
		}
		m.groups[name] = g
		m.log.Info("group loaded", "group", name, "epoch", g.mls.Epoch(), "members", len(g.roster), "undelivered", g.undelivered)
	}
	return m, nil
}

func cmpDefault(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}

// Close closes the state. Calls in flight finish first.
func (m *Moderator) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	groups := m.groups
	m.mu.Unlock()
	for _, g := range groups {
		// Wait for the group's call in flight; later ones are refused.
		g.mu.Lock()
		g.broken = ErrClosed
		g.mu.Unlock()
	}
	return m.store.Close()
}

func (m *Moderator) now() time.Time {
	if m.cfg.Clock != nil {
		return m.cfg.Clock()
	}
	return time.Now()
}

// verifyAt is the VerifyRequest.At for a verification now: zero (the
// broker's clock, with its cache) unless a clock was injected.
func (m *Moderator) verifyAt() time.Time {
	if m.cfg.Clock != nil {
		return m.cfg.Clock()
	}
	return time.Time{}
}

// group returns the named group, locked; the caller unlocks it.
func (m *Moderator) group(name string) (*group, error) {
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return nil, ErrClosed
	}
	g, ok := m.groups[name]
	m.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("moderator: %w %q (known: %s)", ErrUnknownGroup, name, m.groupNames())
	}
	g.mu.Lock()
	if g.deleted {
		g.mu.Unlock()
		return nil, fmt.Errorf("moderator: %w %q: it was deleted", ErrUnknownGroup, name)
	}
	switch {
	case errors.Is(g.broken, ErrClosed):
		g.mu.Unlock()
		return nil, ErrClosed
	case g.broken != nil:
		g.mu.Unlock()
		return nil, fmt.Errorf("moderator: group %q is unusable until the moderator restarts: %w", name, g.broken)
	}
	return g, nil
}

func (m *Moderator) groupNames() string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if len(m.groups) == 0 {
		return "none"
	}
	names := make([]string, 0, len(m.groups))
	for n := range m.groups {
		names = append(names, fmt.Sprintf("%q", n))
	}
	slices.Sort(names)
	return fmt.Sprint(names)
}

// allGroups returns the groups sorted by name.
func (m *Moderator) allGroups() []*group {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*group, 0, len(m.groups))
	for _, g := range m.groups {
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b *group) int { return strings.Compare(a.name, b.name) })
	return out
}

// record sends an audit event, logging a sink failure.
func (m *Moderator) record(e audit.Event) {
	if e.Time.IsZero() {
		e.Time = m.now()
	}
	if err := m.audit.Record(e); err != nil {
		m.log.Error("audit event lost", "event", e.Kind, "group", e.Group, "subject", e.Subject, "error", err)
	}
}
