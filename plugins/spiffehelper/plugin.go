package spiffehelper

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/slimid/slimid/sdk"
)

// Name is the plugin's type name in slimid's configuration.
const Name = "spiffe_helper"

// Version of the plugin.
const Version = "1.0.0"

// Log field names.
const (
	logFile       = "file"
	logDir        = "cert_dir"
	logReason     = "reason"
	logSubject    = "subject"
	logExpiresAt  = "expires_at"
	logGeneration = "generation"
	logDomains    = "trust_domains"
)

// Plugin serves the identity that spiffe-helper writes into its cert_dir:
// the JWT-SVID, the JWT bundle and the X.509-SVID with its bundle.
type Plugin struct {
	log atomic.Pointer[slog.Logger]
	// generation numbers key snapshots; it only grows, across
	// reconfigurations too.
	generation atomic.Uint64
	pub        atomic.Pointer[published]

	// configuring serializes Configure and Close.
	configuring sync.Mutex
	// mu guards src and the publishing of views.
	mu  sync.Mutex
	src *source

	gauges   *gauges
	gaugeErr error
}

var (
	_ sdk.Plugin           = (*Plugin)(nil)
	_ sdk.IdentityProvider = (*Plugin)(nil)
	_ sdk.TokenWatcher     = (*Plugin)(nil)
	_ sdk.Verifier         = (*Plugin)(nil)
	_ sdk.KeyPublisher     = (*Plugin)(nil)
	_ sdk.X509Provider     = (*Plugin)(nil)
	_ sdk.StatusReporter   = (*Plugin)(nil)
	_ sdk.LoggerSetter     = (*Plugin)(nil)
	_ io.Closer            = (*Plugin)(nil)
)

// Option adjusts a new Plugin.
type Option func(*options)

type options struct {
	registerer prometheus.Registerer
}

// WithRegisterer registers the plugin's gauges on r instead of
// prometheus.DefaultRegisterer; nil registers none.
func WithRegisterer(r prometheus.Registerer) Option {
	return func(o *options) { o.registerer = r }
}

// New returns an unconfigured plugin. Its gauges
// (slimid_spiffehelper_token_age_seconds and
// slimid_spiffehelper_token_expiry_seconds) go on
// prometheus.DefaultRegisterer unless WithRegisterer says otherwise.
func New(opts ...Option) *Plugin {
	o := options{registerer: prometheus.DefaultRegisterer}
	for _, opt := range opts {
		opt(&o)
	}
	p := &Plugin{}
	p.log.Store(slog.New(slog.DiscardHandler))
	p.pub.Store(&published{changed: make(chan struct{})})
	if o.registerer != nil {
		p.gauges, p.gaugeErr = registerGauges(o.registerer)
		if p.gauges != nil {
			p.gauges.add(p)
		}
	}
	return p
}

// Info names the plugin.
func (p *Plugin) Info() sdk.Info { return sdk.Info{Name: Name, Version: Version} }

// SetLogger sets the logger.
func (p *Plugin) SetLogger(l *slog.Logger) { p.log.Store(l) }

func (p *Plugin) logger() *slog.Logger { return p.log.Load() }

// ValidateConfig checks a configuration without applying it. It reads no
// file, so a pod's configuration validates anywhere.
func (p *Plugin) ValidateConfig(_ context.Context, raw []byte) ([]string, error) {
	_, err := parseConfig(raw)
	return nil, err
}

// Configure applies a configuration: it starts watching cert_dir and reads
// what spiffe-helper has written so far. On error the running configuration
// stays in force.
func (p *Plugin) Configure(_ context.Context, raw []byte) ([]string, error) {
	cfg, err := parseConfig(raw)
	if err != nil {
		return nil, err
	}
	p.configuring.Lock()
	defer p.configuring.Unlock()

	// Holding mu while the new source reads its first view keeps
	// generations in publishing order.
	p.mu.Lock()
	src, err := openSource(cfg, p)
	if err != nil {
		p.mu.Unlock()
		return nil, err
	}
	old := p.src
	p.src = src
	p.publishLocked(src.view)
	src.logChanges(&view{}, src.view)
	src.start()
	p.mu.Unlock()
	if old != nil {
		old.stop()
	}

	if p.gaugeErr != nil {
		p.logger().Warn("gauges not registered", logReason, p.gaugeErr.Error())
	}
	p.logger().Info("configured", logDir, cfg.dir)
	return nil, nil
}

// Close stops watching cert_dir and withdraws the plugin's gauges. Calls
// after Close fail as not configured.
func (p *Plugin) Close() error {
	p.configuring.Lock()
	defer p.configuring.Unlock()
	p.mu.Lock()
	src := p.src
	p.src = nil
	p.publishLocked(nil)
	p.mu.Unlock()
	if src != nil {
		src.stop()
	}
	if p.gauges != nil {
		p.gauges.remove(p)
	}
	return nil
}

// published is the view in force and a channel closed when it is replaced.
type published struct {
	view    *view
	changed chan struct{}
}

func (p *Plugin) publishLocked(v *view) {
	old := p.pub.Load()
	p.pub.Store(&published{view: v, changed: make(chan struct{})})
	close(old.changed)
}

// publishFrom publishes v if src is still the configured source; a source
// replaced by a reconfiguration is ignored.
func (p *Plugin) publishFrom(src *source, v *view) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.src == src {
		p.publishLocked(v)
	}
}

// current is the view in force, or ErrNotConfigured.
func (p *Plugin) current() (*view, error) {
	if v := p.pub.Load().view; v != nil {
		return v, nil
	}
	return nil, sdk.ErrNotConfigured
}
