package broker

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slimid/slimid/sdk"
)

// Options are the broker's dependencies.
type Options struct {
	// Builtins are the plugin types available without a binary.
	Builtins Builtins
	// Logger receives the broker's and the plugins' logs.
	Logger *slog.Logger
	// Registerer receives the broker's metrics; nil keeps them private.
	Registerer prometheus.Registerer
	// ReadyTimeout bounds how long a reloaded plugin may take to become
	// ready before the reload is abandoned. Default 10 s.
	ReadyTimeout time.Duration
	// DrainGrace bounds how long a replaced instance may finish its calls.
	// Default 5 s.
	DrainGrace time.Duration
}

// Broker loads identity plugins and routes token requests and
// verifications to them.
type Broker struct {
	builtins Builtins
	log      *slog.Logger
	metrics  *metrics
	ready    time.Duration
	grace    time.Duration

	ctx    context.Context
	cancel context.CancelFunc

	reloadMu sync.Mutex // serializes Reload and Close
	closed   atomic.Bool
	cfg      *Config
	set      atomic.Pointer[slotSet]
	cache    atomic.Pointer[verdictCache]
	epochs   atomic.Uint64

	trustMu   sync.Mutex
	trustSubs map[*trustSub]struct{}
}

// slotSet is the plugins in configuration order; replaced whole on reload.
type slotSet struct {
	order  []*slot
	byName map[string]*slot
}

// New starts every plugin in cfg. It fails if any plugin fails to start or
// to accept its configuration.
func New(ctx context.Context, cfg *Config, opts Options) (*Broker, error) {
	b := &Broker{
		builtins:  opts.Builtins,
		log:       opts.Logger,
		metrics:   newMetrics(opts.Registerer),
		ready:     opts.ReadyTimeout,
		grace:     opts.DrainGrace,
		cfg:       cfg,
		trustSubs: map[*trustSub]struct{}{},
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.ready == 0 {
		b.ready = 10 * time.Second
	}
	if b.grace == 0 {
		b.grace = 5 * time.Second
	}
	b.ctx, b.cancel = context.WithCancel(context.WithoutCancel(ctx))
	b.cache.Store(newVerdictCache(cfg.cacheEntries()))
	set := &slotSet{byName: map[string]*slot{}}
	for i, entry := range cfg.Plugins {
		s := newSlot(b.ctx, entry, b, cfg)
		in, err := s.start(ctx)
		if err != nil {
			stopAll(set.order, 0)
			s.cancel()
			b.cancel()
			return nil, entryError(i, err)
		}
		s.install(in, 0)
		set.order = append(set.order, s)
		set.byName[entry.Name] = s
	}
	b.set.Store(set)
	return b, nil
}

// entryError says which entry failed: its config, or the entry itself.
func entryError(i int, err error) error {
	if errors.Is(err, sdk.ErrInvalidConfig) {
		return fmt.Errorf("plugins[%d].config: %w", i, err)
	}
	return fmt.Errorf("plugins[%d]: %w", i, err)
}

func stopAll(slots []*slot, grace time.Duration) {
	var wg sync.WaitGroup
	for _, s := range slots {
		wg.Go(func() { s.stop(grace) })
	}
	wg.Wait()
}

// Close stops every plugin, letting calls in flight finish.
func (b *Broker) Close() error {
	b.reloadMu.Lock()
	defer b.reloadMu.Unlock()
	b.closed.Store(true)
	if set := b.set.Swap(&slotSet{byName: map[string]*slot{}}); set != nil {
		stopAll(set.order, b.grace)
	}
	b.cancel()
	return nil
}

// Config is the configuration in force.
func (b *Broker) Config() *Config {
	b.reloadMu.Lock()
	defer b.reloadMu.Unlock()
	return b.cfg
}

func (b *Broker) slot(name string) (*slot, error) {
	s, ok := b.set.Load().byName[name]
	if !ok {
		return nil, fmt.Errorf("%w %q (configured: %s)", ErrUnknownPlugin, name, strings.Join(b.names(), ", "))
	}
	return s, nil
}

func (b *Broker) names() []string {
	var out []string
	for _, s := range b.set.Load().order {
		out = append(out, s.name)
	}
	return out
}

// pick resolves an empty plugin name to the only plugin offering cap.
func (b *Broker) pick(name string, capability sdk.Capability) (*slot, error) {
	if name != "" {
		return b.slot(name)
	}
	var found []*slot
	for _, s := range b.set.Load().order {
		if in := s.cur.Load(); in != nil && in.info.Has(capability) {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("%w: %d plugins offer %s (%s); name one", ErrNoPlugin, len(found), capability, strings.Join(b.names(), ", "))
	}
	return found[0], nil
}

// FetchToken gets a token for the local workload from the named plugin (or
// the only plugin that mints).
func (b *Broker) FetchToken(ctx context.Context, plugin string, req sdk.TokenRequest) (sdk.Token, error) {
	s, err := b.pick(plugin, sdk.CapFetchToken)
	if err != nil {
		return sdk.Token{}, err
	}
	in, err := s.acquire()
	if err != nil {
		return sdk.Token{}, err
	}
	defer in.leave()
	tok, err := in.client.FetchToken(ctx, req)
	if err != nil {
		return sdk.Token{}, err
	}
	b.metrics.tokenExpiry.set(s.name, tok.ExpiresAt)
	return tok, nil
}

// FetchX509SVID returns the workload's X.509-SVID from the named plugin.
func (b *Broker) FetchX509SVID(ctx context.Context, plugin string) (sdk.X509SVID, error) {
	s, err := b.pick(plugin, sdk.CapX509)
	if err != nil {
		return sdk.X509SVID{}, err
	}
	in, err := s.acquire()
	if err != nil {
		return sdk.X509SVID{}, err
	}
	defer in.leave()
	return in.client.FetchX509SVID(ctx)
}

// VerifyX509 checks a certificate chain with the named plugin, or with each
// plugin offering X.509 in configuration order when plugin is empty.
func (b *Broker) VerifyX509(ctx context.Context, plugin string, chain []*x509.Certificate, at time.Time) (sdk.Identity, error) {
	verify := func(s *slot) (sdk.Identity, error) {
		in, err := s.acquire()
		if err != nil {
			return sdk.Identity{}, err
		}
		defer in.leave()
		id, err := in.client.VerifyX509(ctx, chain, at)
		if err != nil {
			return sdk.Identity{}, err
		}
		id.Provider = s.name
		return id, nil
	}
	if plugin == "" {
		return b.firstAccept(sdk.CapX509, "certificate chain", verify)
	}
	s, err := b.slot(plugin)
	if err != nil {
		return sdk.Identity{}, err
	}
	return verify(s)
}

func builtinNames(b Builtins) string {
	names := make([]string, 0, len(b))
	for n := range b {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
