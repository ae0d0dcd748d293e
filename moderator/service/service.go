package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/mls"
	moderatorv1 "github.com/slimid/slimid/sdk/proto/moderator/v1"
)

// SLIM's delivery defaults: an unacknowledged message is sent again every
// second, ten times.
const (
	DefaultRetryInterval = time.Second
	DefaultMaxRetries    = 10
)

// stopGrace bounds how long Serve waits for calls in flight when it stops.
const stopGrace = 5 * time.Second

// Config is what a Service needs.
type Config struct {
	// Moderator configures the moderator the service opens. Leave OnCommit
	// nil: the service delivers every commit itself. Moderator.Tokens mints
	// the moderator's own credential for new channels.
	Moderator moderator.Config
	// Plugin is the plugin entry the moderator's credential comes from.
	// Empty: the broker's only minting plugin.
	Plugin string
	// RetryInterval and MaxRetries: a delivery is re-sent every
	// RetryInterval until acknowledged, at most MaxRetries times; still
	// unacknowledged one interval later, the participant is reported
	// unresponsive (a warning and slimid_moderator_unresponsive_total) and
	// gets it again when it reconnects. Defaults 1s and 10, as SLIM.
	RetryInterval time.Duration
	MaxRetries    int
	// Logger receives operational logs. Default: discarded.
	Logger *slog.Logger
	// Registerer receives the service's metrics; nil keeps them private.
	Registerer prometheus.Registerer
}

// Service serves the ChannelManager and Moderator gRPC services on top of a
// moderator.Moderator, and gRPC health.
type Service struct {
	cfg     Config
	log     *slog.Logger
	mod     *moderator.Moderator
	metrics *metrics
	names   *nameBook
	ids     atomic.Uint64
	done    chan struct{}

	mu       sync.Mutex
	conns    map[string]*conn // by participant name
	awaiting map[mls.KeyPackageRef]*awaited
	channels map[string]*channel
	// connsChanged is closed and replaced whenever a participant connects.
	connsChanged chan struct{}
	serving      bool
	stopped      bool
}

// Open opens the moderator's state and the delivery state built from its
// undelivered commits. Call Serve, then Close.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Moderator.OnCommit != nil {
		return nil, errors.New("service: leave Config.Moderator.OnCommit nil: the service delivers commits")
	}
	if cfg.RetryInterval < 0 || cfg.MaxRetries < 0 {
		return nil, errors.New("service: RetryInterval and MaxRetries must not be negative")
	}
	if cfg.RetryInterval == 0 {
		cfg.RetryInterval = DefaultRetryInterval
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = DefaultMaxRetries
	}
	s := &Service{
		cfg: cfg, log: cfg.Logger, metrics: newMetrics(cfg.Registerer), done: make(chan struct{}),
		conns: map[string]*conn{}, awaiting: map[mls.KeyPackageRef]*awaited{}, channels: map[string]*channel{},
		connsChanged: make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	mc := cfg.Moderator
	mc.OnCommit = s.onCommit
	if mc.Logger == nil {
		mc.Logger = s.log
	}
	mod, err := moderator.Open(ctx, mc)
	if err != nil {
		return nil, err
	}
	s.mod = mod
	if s.names, err = openNameBook(filepath.Join(mc.StateDir, namesFile)); err != nil {
		mod.Close()
		return nil, err
	}
	for _, g := range mod.Groups() {
		if err := s.loadChannel(g.Name); err != nil {
			mod.Close()
			return nil, err
		}
	}
	return s, nil
}

// Moderator returns the moderator the service drives.
func (s *Service) Moderator() *moderator.Moderator { return s.mod }

// Serve serves on lis until ctx ends, and runs the moderator's lifecycle
// (expiry, its own renewals, trust changes) meanwhile. It stops member
// streams, lets operator calls finish for a few seconds, and returns nil
// once ctx ends. A Service serves once.
func (s *Service) Serve(ctx context.Context, lis net.Listener) error {
	s.mu.Lock()
	if s.serving {
		s.mu.Unlock()
		return errors.New("service: Serve was already called")
	}
	s.serving = true
	s.mu.Unlock()

	gs := grpc.NewServer()
	hs := health.NewServer()
	moderatorv1.RegisterChannelManagerServer(gs, &manager{s: s})
	moderatorv1.RegisterModeratorServer(gs, &members{s: s})
	healthpb.RegisterHealthServer(gs, hs)
	for _, name := range []string{"", moderatorv1.ChannelManager_ServiceDesc.ServiceName, moderatorv1.Moderator_ServiceDesc.ServiceName} {
		hs.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	serveErr := make(chan error, 1)
	wg.Go(func() { serveErr <- gs.Serve(lis) })
	wg.Go(func() {
		if err := s.mod.Run(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("moderator lifecycle stopped", "error", err)
		}
	})
	s.log.Info("moderator serving", "address", lis.Addr().String(), "channels", len(s.mod.Groups()))

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		cancel()
	}
	hs.Shutdown()
	s.mu.Lock()
	s.stopped = true
	close(s.done)
	s.mu.Unlock()
	stopped := make(chan struct{})
	go func() {
		gs.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(stopGrace):
		gs.Stop()
		<-stopped
	}
	wg.Wait()
	if errors.Is(err, grpc.ErrServerStopped) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("service: %v", err)
	}
	return nil
}

// Close closes the moderator's state. Call it after Serve returned.
func (s *Service) Close() error {
	return s.mod.Close()
}

// nextID numbers deliveries and join requests.
func (s *Service) nextID() uint64 { return s.ids.Add(1) }

// stopping reports whether Serve is stopping.
func (s *Service) stopping() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}
