package jwt

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/slimid/slimid/sdk"
)

// Name is the plugin's type name in the broker's configuration.
const Name = "jwt"

// Version of the plugin.
const Version = "0.1.0"

// Plugin mints JWTs (provider) and verifies them (verifier) with static or
// auto-resolved keys. Create it with New; it is unconfigured until Configure
// succeeds.
type Plugin struct {
	log     atomic.Pointer[slog.Logger]
	metrics *metrics
	client  *http.Client

	// configMu serialises Configure and Close.
	configMu sync.Mutex
	// rt is the running configuration; nil before the first Configure.
	rt atomic.Pointer[runtime]

	// pubMu guards publishing: gen and the swap of pub.
	pubMu sync.Mutex
	gen   uint64
	// pub is what WatchKeys sends and Verify checks with, always together.
	pub atomic.Pointer[published]
}

var (
	_ sdk.Plugin           = (*Plugin)(nil)
	_ sdk.IdentityProvider = (*Plugin)(nil)
	_ sdk.Verifier         = (*Plugin)(nil)
	_ sdk.KeyPublisher     = (*Plugin)(nil)
	_ sdk.StatusReporter   = (*Plugin)(nil)
	_ sdk.LoggerSetter     = (*Plugin)(nil)
)

// Option adjusts a Plugin made by NewWithOptions.
type Option func(*Plugin)

// WithRegisterer registers the plugin's metrics on reg instead of
// prometheus.DefaultRegisterer.
func WithRegisterer(reg prometheus.Registerer) Option {
	return func(p *Plugin) { p.metrics = newMetrics(reg) }
}

// WithHTTPClient fetches issuer keys with (a copy of) c instead of the
// plugin's own client, for example to trust a private CA. Redirects to
// another origin stay refused unless c has its own redirect policy; each
// fetch is bounded by a 10 s deadline either way.
func WithHTTPClient(c *http.Client) Option {
	return func(p *Plugin) {
		own := *c
		if own.CheckRedirect == nil {
			own.CheckRedirect = sameOriginRedirect
		}
		p.client = &own
	}
}

// New returns an unconfigured plugin whose metrics go to
// prometheus.DefaultRegisterer.
func New() *Plugin { return NewWithOptions() }

// NewWithOptions returns an unconfigured plugin.
func NewWithOptions(opts ...Option) *Plugin {
	p := &Plugin{}
	p.log.Store(slog.New(slog.DiscardHandler))
	p.pub.Store(&published{changed: make(chan struct{})})
	for _, opt := range opts {
		opt(p)
	}
	if p.metrics == nil {
		p.metrics = newMetrics(prometheus.DefaultRegisterer)
	}
	if p.client == nil {
		p.client = newHTTPClient()
	}
	return p
}

// Info names the plugin.
func (p *Plugin) Info() sdk.Info { return sdk.Info{Name: Name, Version: Version} }

// SetLogger sets the logger for configurations applied from now on.
func (p *Plugin) SetLogger(l *slog.Logger) {
	if l != nil {
		p.log.Store(l.With("plugin", Name))
	}
}

// ValidateConfig checks config and loads its keys without applying it.
func (p *Plugin) ValidateConfig(_ context.Context, config []byte) ([]string, error) {
	s, err := parseConfig(config)
	if err != nil {
		return nil, err
	}
	return s.notes, nil
}

// Configure applies config atomically: the new keys, watchers and resolvers
// start, then replace the running ones. A refused config leaves the running
// one untouched.
func (p *Plugin) Configure(ctx context.Context, config []byte) ([]string, error) {
	s, err := parseConfig(config)
	if err != nil {
		return nil, err
	}
	p.configMu.Lock()
	defer p.configMu.Unlock()
	rt, err := p.start(ctx, s)
	if err != nil {
		return nil, err
	}
	// Swap and publish as one step, so no call sees the new configuration
	// with the old keys.
	p.pubMu.Lock()
	old := p.rt.Swap(rt)
	p.publishLocked(rt)
	p.pubMu.Unlock()
	if old != nil {
		old.stop()
	}
	rt.activate()
	return s.notes, nil
}

// Close stops the running configuration's watchers and resolvers. Calls
// made afterwards fail as not configured.
func (p *Plugin) Close() error {
	p.configMu.Lock()
	defer p.configMu.Unlock()
	p.pubMu.Lock()
	old := p.rt.Swap(nil)
	p.pubMu.Unlock()
	if old != nil {
		old.stop()
	}
	return nil
}

// current is the running configuration, or ErrNotConfigured.
func (p *Plugin) current() (*runtime, error) {
	rt := p.rt.Load()
	if rt == nil {
		return nil, sdk.ErrNotConfigured
	}
	return rt, nil
}

// Status reports readiness and what the plugin serves.
func (p *Plugin) Status(context.Context) sdk.Status {
	rt := p.rt.Load()
	if rt == nil {
		return sdk.Status{Message: "not configured"}
	}
	var parts []string
	ready := true
	if ps := rt.setup.provider; ps != nil {
		parts = append(parts, fmt.Sprintf("minting %s tokens for %q", rt.signer.Load().alg, ps.subject))
	}
	if vs := rt.setup.verifier; vs != nil {
		if rt.resolver == nil {
			parts = append(parts, "verifying with static keys")
		} else {
			msg, ok := rt.resolver.status()
			parts = append(parts, msg)
			ready = ok
		}
	}
	return sdk.Status{Ready: ready, Message: strings.Join(parts, "; ")}
}
