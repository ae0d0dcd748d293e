package spire

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"

	"github.com/slimid/slimid/sdk"
)

// Name is the plugin's type name in slimid's configuration.
const Name = "spire"

// Version of the plugin.
const Version = "1.0.0"

// Log field names.
const (
	logSocket     = "socket"
	logReason     = "reason"
	logError      = "error"
	logExpires    = "expires_at"
	logSVIDs      = "svids"
	logGeneration = "generation"
	logKeySets    = "key_sets"
	logSource     = "source"
)

// Plugin serves the workload's SPIFFE identities from a SPIRE agent's
// Workload API: JWT-SVIDs as tokens, X.509-SVIDs as MLS credentials, and the
// trust bundles to verify both.
type Plugin struct {
	log atomic.Pointer[slog.Logger]
	// keys outlives configurations, so snapshot generations only grow.
	keys *keyHub

	configMu sync.Mutex // serializes Configure and Close
	cur      atomic.Pointer[agent]
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
)

// New returns an unconfigured plugin.
func New() *Plugin {
	p := &Plugin{}
	p.log.Store(slog.New(slog.DiscardHandler))
	p.keys = newKeyHub(p.logger)
	return p
}

// Info names the plugin.
func (p *Plugin) Info() sdk.Info { return sdk.Info{Name: Name, Version: Version} }

// SetLogger sets the logger.
func (p *Plugin) SetLogger(l *slog.Logger) { p.log.Store(l) }

func (p *Plugin) logger() *slog.Logger { return p.log.Load() }

// ValidateConfig checks a configuration without applying it; it does not
// contact the agent.
func (p *Plugin) ValidateConfig(_ context.Context, raw []byte) ([]string, error) {
	_, notes, err := parseConfig(raw, os.Getenv)
	return notes, err
}

// Configure applies a configuration: it connects to the agent (without
// waiting for it: Status says when it serves) and swaps the connection in.
// On error the running configuration stays.
func (p *Plugin) Configure(ctx context.Context, raw []byte) ([]string, error) {
	cfg, notes, err := parseConfig(raw, os.Getenv)
	if err != nil {
		return nil, err
	}
	p.configMu.Lock()
	defer p.configMu.Unlock()
	if old := p.cur.Load(); old != nil && old.cfg.equal(cfg) {
		return notes, nil
	}
	next, err := dialAgent(ctx, cfg, p.logger, p.keys.setBundles)
	if err != nil {
		return nil, err
	}
	p.keys.setRules(verifyRules{audiences: cfg.audiences, leeway: cfg.leeway})
	if old := p.cur.Swap(next); old != nil {
		old.close()
	}
	next.start()
	return notes, nil
}

// Close disconnects from the agent. The plugin answers as not configured
// until the next Configure.
func (p *Plugin) Close() error {
	p.configMu.Lock()
	defer p.configMu.Unlock()
	if old := p.cur.Swap(nil); old != nil {
		old.close()
	}
	return nil
}

// Status reports whether the agent serves the configured identity now, and
// why not.
func (p *Plugin) Status(context.Context) sdk.Status {
	a, err := p.agent()
	if err != nil {
		return sdk.Status{Message: err.Error()}
	}
	return a.status()
}

// agent is the running connection, or ErrNotConfigured.
func (p *Plugin) agent() (*agent, error) {
	if a := p.cur.Load(); a != nil {
		return a, nil
	}
	return nil, sdk.ErrNotConfigured
}
