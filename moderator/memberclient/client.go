package memberclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/slimid/slimid/moderator/member"
	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/sdk"
	moderatorv1 "github.com/slimid/slimid/sdk/proto/moderator/v1"
)

// TokenSource mints and renews the member's tokens. *broker.Broker and
// *brokerclient.Client both satisfy it.
type TokenSource interface {
	FetchToken(ctx context.Context, plugin string, req sdk.TokenRequest) (sdk.Token, error)
	WatchToken(ctx context.Context, plugin string, req sdk.TokenRequest, send func(sdk.Token) error) error
}

// JoinRequest is the moderator's invitation to a channel.
type JoinRequest struct {
	Channel   string
	Suite     mls.Suite
	Audiences []string
	// Plugin is the plugin entry the moderator's own credential comes from,
	// a hint for members that share its broker.
	Plugin string
}

// Credential is what a key package is built from: an MLS credential and
// its Signer, whose key also signs the proof of possession.
type Credential struct {
	member.Credential
	// Subject names the identity, for events. Optional.
	Subject string
}

// CredentialFunc makes the credential for a key package in answer to a
// JoinRequest.
type CredentialFunc func(ctx context.Context, req JoinRequest) (Credential, error)

// Config is what a Client needs.
type Config struct {
	// Target is the moderator: unix:///path/to.sock or host:port.
	Target string
	// Name is the participant name operators add to channels.
	Name string
	// Tokens mints the key-bound tokens and renews them. Required unless
	// Credential is set (then credentials are not renewed).
	Tokens TokenSource
	// Plugin is the plugin entry tokens come from; empty: the broker's only
	// minting plugin.
	Plugin string
	// StateDir keeps memberships and key packages waiting for a Welcome
	// (private keys: mode 0600 in a 0700 directory); empty keeps them in
	// memory only.
	StateDir string
	// Credential replaces the default: a fresh signature key for the
	// channel's suite with a token from Tokens bound to it.
	Credential CredentialFunc
	// Logger receives operational logs. Default: discarded.
	Logger *slog.Logger
	// MinBackoff and MaxBackoff bound the wait between reconnections.
	// Defaults 100ms and 10s.
	MinBackoff, MaxBackoff time.Duration
}

// ErrNotConnected is returned by Send while the stream to the moderator is
// down; the client reconnects on its own.
var ErrNotConnected = errors.New("not connected to the moderator")

// Client is a member that reaches its moderator over the network: it
// answers join requests with key packages whose credential binds their
// key, joins from the Welcome, applies commits in order, sends and receives
// application messages and keeps its credential fresh.
type Client struct {
	cfg    Config
	log    *slog.Logger
	store  *stateDir
	events *events

	mu          sync.Mutex
	memberships map[string]*membership
	joins       map[mls.KeyPackageRef]*pendingJoin
	byRequest   map[uint64]*pendingJoin
	early       map[string][]*moderatorv1.Delivery
	sess        *session
	queued      map[string][]byte
	running     bool
	rotations   context.Context
}

// membership is this client's place in one channel.
type membership struct {
	channel   string
	mu        sync.Mutex // serializes the member's use and its saves
	m         *member.Member
	subject   string
	plugin    string
	audiences []string
	senders   map[mls.LeafIndex]string
	stop      context.CancelFunc
}

func newMembership(channel string, m *member.Member, subject, plugin string, audiences []string) *membership {
	return &membership{channel: channel, m: m, subject: subject, plugin: plugin, audiences: audiences, senders: map[mls.LeafIndex]string{}}
}

// pendingJoin is a key package sent, waiting for its Welcome.
type pendingJoin struct {
	channel   string
	bundle    *mls.KeyPackageBundle
	cred      member.Credential
	subject   string
	plugin    string
	audiences []string
	reply     *moderatorv1.JoinReply
}

// New prepares a client, loading its state directory. Call Run.
func New(cfg Config) (*Client, error) {
	switch {
	case cfg.Target == "":
		return nil, errors.New("memberclient: Config.Target is required (unix:///path/to.sock or host:port)")
	case cfg.Name == "":
		return nil, errors.New("memberclient: Config.Name (the participant name) is required")
	case cfg.Tokens == nil && cfg.Credential == nil:
		return nil, errors.New("memberclient: Config.Tokens is required to make credentials")
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(10*time.Second, cfg.MinBackoff)
	}
	c := &Client{
		cfg: cfg, log: cfg.Logger, events: newEvents(),
		memberships: map[string]*membership{}, joins: map[mls.KeyPackageRef]*pendingJoin{},
		byRequest: map[uint64]*pendingJoin{}, early: map[string][]*moderatorv1.Delivery{}, queued: map[string][]byte{},
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if cfg.StateDir != "" {
		st, err := openStateDir(cfg.StateDir)
		if err != nil {
			return nil, err
		}
		c.store = st
		mss, err := st.loadMemberships()
		if err != nil {
			return nil, err
		}
		for _, ms := range mss {
			c.memberships[ms.channel] = ms
		}
		joins, err := st.loadJoins()
		if err != nil {
			return nil, err
		}
		for _, pj := range joins {
			c.joins[pj.bundle.KeyPackage().Ref()] = pj
		}
	}
	return c, nil
}

// Events returns the client's events. It is closed when Run returns. Read
// it steadily: past a few thousand unread events, new ones are dropped.
func (c *Client) Events() <-chan Event { return c.events.ch }

func (c *Client) emit(e Event) {
	if !c.events.emit(e) {
		c.log.Warn("event dropped: nobody reads Events", "kind", e.Kind, "channel", e.Channel)
	}
}

// Run connects to the moderator and serves it until ctx ends,
// reconnecting with backoff whenever the stream breaks. It returns ctx's
// error.
func (c *Client) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.running {
		c.mu.Unlock()
		return errors.New("memberclient: Run was already called")
	}
	c.running = true
	c.rotations = ctx
	for _, ms := range c.memberships {
		c.startRotation(ctx, ms)
	}
	c.mu.Unlock()
	defer c.events.close()

	conn, err := grpc.NewClient(c.cfg.Target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("memberclient: moderator address %q: %v", c.cfg.Target, err)
	}
	defer conn.Close()
	client := moderatorv1.NewModeratorClient(conn)
	backoff := c.cfg.MinBackoff
	for {
		connected, err := c.session(ctx, client)
		if ctx.Err() != nil {
			c.stopRotations()
			return ctx.Err()
		}
		if connected {
			backoff = c.cfg.MinBackoff
		}
		c.log.Info("moderator stream ended; reconnecting", "participant", c.cfg.Name, "error", err, "backoff", backoff)
		c.emit(Event{Kind: Disconnected, Reason: oneLine(err)})
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			c.stopRotations()
			return ctx.Err()
		case <-time.After(wait):
		}
		backoff = min(2*backoff, c.cfg.MaxBackoff)
	}
}

// Membership describes this member's place in a channel.
type Membership struct {
	Channel            string
	Subject            string
	Leaf               mls.LeafIndex
	Epoch              uint64
	EpochAuthenticator []byte
	Members            []mls.Member
	Credential         member.Credential
}

// Membership returns the member's state in a channel.
func (c *Client) Membership(channel string) (Membership, bool) {
	ms := c.membership(channel)
	if ms == nil {
		return Membership{}, false
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return Membership{
		Channel: channel, Subject: ms.subject, Leaf: ms.m.Leaf(), Epoch: ms.m.Epoch(),
		EpochAuthenticator: bytes.Clone(ms.m.EpochAuthenticator()), Members: ms.m.Members(), Credential: ms.m.Credential(),
	}, true
}

// Channels lists the channels this member is in.
func (c *Client) Channels() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Sorted(maps.Keys(c.memberships))
}

func (c *Client) membership(channel string) *membership {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.memberships[channel]
}

// forget drops a membership that ended.
func (c *Client) forget(channel string) *membership {
	c.mu.Lock()
	ms := c.memberships[channel]
	delete(c.memberships, channel)
	delete(c.queued, channel)
	c.mu.Unlock()
	if ms == nil {
		return nil
	}
	if ms.stop != nil {
		ms.stop()
	}
	if err := c.store.deleteMembership(channel); err != nil {
		c.log.Warn("could not delete a membership's state", "channel", channel, "error", err)
	}
	return ms
}
