package broker

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/jwtverify"
)

// slot is one configured plugin entry: the instance serving it now, its
// published keys, and the supervisor that restarts it.
type slot struct {
	entry    atomic.Pointer[PluginConfig] // swapped by reloads
	builtins Builtins
	log      *slog.Logger
	metrics  *metrics
	series   slotMetrics
	onTrust  func(name string)

	initialBackoff, maxBackoff time.Duration

	cur      atomic.Pointer[instance] // nil while down
	keys     atomic.Pointer[published]
	epoch    atomic.Uint64 // changes whenever cached verdicts may be stale
	epochs   *atomic.Uint64
	restarts atomic.Uint64
	name     string

	ctx    context.Context // the slot's life; ends on stop
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// published is a key snapshot from one instance, ready to verify with.
type published struct {
	verifier *jwtverify.Verifier
	from     *instance
}

func newSlot(parent context.Context, entry PluginConfig, b *Broker, cfg *Config) *slot {
	s := &slot{name: entry.Name, builtins: b.builtins, log: b.log.With("plugin", entry.Name), metrics: b.metrics, onTrust: b.trustChanged, epochs: &b.epochs}
	s.entry.Store(&entry)
	s.series = b.metrics.forPlugin(entry.Name)
	s.initialBackoff, s.maxBackoff = cfg.backoff()
	s.bump()
	s.ctx, s.cancel = context.WithCancel(parent)
	return s
}

// bump invalidates cached verdicts: epochs are unique across the broker, so
// a verdict never matches a later slot's epoch either.
func (s *slot) bump() { s.epoch.Store(s.epochs.Add(1)) }

// start starts an instance of the current entry.
func (s *slot) start(ctx context.Context) (*instance, error) {
	return startInstance(ctx, s.ctx, *s.entry.Load(), s.builtins, s.log)
}

// install makes in the serving instance and retires the previous one after
// the swap, so no call finds the slot empty.
func (s *slot) install(in *instance, grace time.Duration) {
	old := s.cur.Swap(in)
	s.keys.Store(nil)
	s.bump()
	s.metrics.pluginUp.WithLabelValues(s.name).Set(1)
	s.wg.Add(2)
	go s.supervise(in)
	go s.watchKeys(in)
	if old != nil {
		old.retire(grace)
	}
	s.onTrust(s.name)
}

// acquire returns the serving instance with a call registered on it.
func (s *slot) acquire() (*instance, error) {
	for {
		in := s.cur.Load()
		if in == nil {
			return nil, sdk.Unavailable("plugin(%s): down, restarting", s.name)
		}
		if in.enter() {
			return in, nil
		}
		if s.cur.Load() == in {
			return nil, sdk.Unavailable("plugin(%s): stopping", s.name)
		}
	}
}

// supervise waits for the instance to die and restarts the plugin with
// exponential backoff and jitter. While it is down every call fails as
// unavailable.
func (s *slot) supervise(in *instance) {
	defer s.wg.Done()
	select {
	case <-s.ctx.Done():
		return
	case <-in.ctx.Done():
		return // retired on purpose
	case <-in.done:
	}
	if !s.cur.CompareAndSwap(in, nil) {
		return
	}
	s.keys.Store(nil)
	s.bump()
	s.metrics.pluginUp.WithLabelValues(s.name).Set(0)
	s.log.Error("plugin exited; restarting", "uptime", time.Since(in.started).Round(time.Millisecond))
	in.retire(0)
	s.onTrust(s.name)

	failures := 0
	for {
		delay := s.delay(failures)
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(delay):
		}
		ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
		next, err := s.start(ctx)
		cancel()
		if err != nil {
			failures++
			s.log.Error("plugin restart failed", "attempt", failures, "error", err)
			continue
		}
		s.restarts.Add(1)
		s.metrics.restarts.WithLabelValues(s.name).Inc()
		if !s.cur.CompareAndSwap(nil, next) {
			next.retire(0) // a reload installed another instance meanwhile
			return
		}
		s.bump()
		s.metrics.pluginUp.WithLabelValues(s.name).Set(1)
		s.log.Info("plugin restarted", "after", delay.Round(time.Millisecond))
		s.wg.Add(2)
		go s.supervise(next)
		go s.watchKeys(next)
		s.onTrust(s.name)
		return
	}
}

// delay is the backoff before restart attempt n: doubling from the initial
// backoff up to the maximum, with ±20% jitter so plugins do not restart in
// lockstep.
func (s *slot) delay(n int) time.Duration {
	d := s.initialBackoff
	for i := 0; i < n && d < s.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.maxBackoff)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// watchKeys follows the instance's published keys, if it publishes any.
// Every snapshot replaces the last and invalidates cached verdicts.
func (s *slot) watchKeys(in *instance) {
	defer s.wg.Done()
	if !in.info.Has(sdk.CapWatchKeys) {
		return
	}
	for {
		err := in.client.WatchKeys(in.ctx, func(snap sdk.KeySnapshot) error {
			v, err := jwtverify.New(snap)
			if err != nil {
				// Unusable keys must not linger: verify through the plugin.
				s.log.Error("published keys unusable; verifying through the plugin", "error", err)
				s.keys.Store(nil)
			} else if s.cur.Load() == in {
				s.keys.Store(&published{verifier: v, from: in})
			}
			s.bump()
			s.metrics.keyUpdates.WithLabelValues(s.name).Inc()
			s.onTrust(s.name)
			return nil
		})
		if cur := s.keys.Load(); cur != nil && cur.from == in {
			s.keys.Store(nil)
			s.bump()
		}
		if in.ctx.Err() != nil || s.ctx.Err() != nil || in.isRetired() {
			return
		}
		if errors.Is(err, sdk.ErrUnsupported) {
			return
		}
		select {
		case <-in.done:
			return
		case <-in.ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// stop retires the slot's instance and ends its goroutines.
func (s *slot) stop(grace time.Duration) {
	if in := s.cur.Swap(nil); in != nil {
		in.retire(grace)
	}
	s.cancel()
	s.wg.Wait()
	s.metrics.pluginUp.WithLabelValues(s.name).Set(0)
	// What this plugin vouched for is no longer vouched for.
	s.onTrust(s.name)
}

// observe records one verification.
func (s *slot) observe(outcome, path string, took time.Duration) {
	s.series.verifications[[2]string{outcome, path}].Inc()
	s.series.latency[path].Observe(took.Seconds())
}
