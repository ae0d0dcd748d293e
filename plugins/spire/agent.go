package spire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/slimid/slimid/sdk"
)

// agent is one connection to the Workload API with one configuration. It
// streams X.509 contexts and JWT bundles for as long as it lives,
// reconnecting with backoff, and keeps the last good material so that the
// plugin keeps serving it through an outage.
type agent struct {
	cfg    settings
	client *workloadapi.Client
	log    func() *slog.Logger
	// onBundles receives every JWT bundle set the agent streams.
	onBundles func(*jwtbundle.Set)

	ctx    context.Context // ends at close
	cancel context.CancelFunc
	done   sync.WaitGroup
	closed chan struct{}

	tokens *tokenCache

	mu       sync.Mutex
	x509     *workloadapi.X509Context // last received; nil before the first
	x509Err  error                    // last stream error; nil while streaming
	jwtSeen  bool
	jwtErr   error
	downAt   time.Time     // when the first of the streams failed; zero while up
	rotated  chan struct{} // closed and replaced on every X.509 update
	wasReady bool
}

// dialAgent prepares a connection to the agent; gRPC dials lazily, so this
// never waits for it. ctx lends its values, not its deadline: the watches
// run until close.
func dialAgent(ctx context.Context, cfg settings, log func() *slog.Logger, onBundles func(*jwtbundle.Set)) (*agent, error) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	client, err := workloadapi.New(ctx,
		workloadapi.WithAddr(cfg.addr),
		workloadapi.WithBackoffStrategy(retryStrategy{}),
		workloadapi.WithDialOptions(dialOptions()...),
		workloadapi.WithLogger(spiffeLogger{log: log}),
	)
	if err != nil {
		cancel()
		return nil, sdk.InvalidConfig("socket_path %s: %v", cfg.addr, err)
	}
	a := &agent{
		cfg:       cfg,
		client:    client,
		ctx:       ctx,
		log:       log,
		onBundles: onBundles,
		cancel:    cancel,
		closed:    make(chan struct{}),
		tokens:    newTokenCache(),
		rotated:   make(chan struct{}),
	}
	return a, nil
}

// start begins streaming X.509 contexts and JWT bundles.
func (a *agent) start() {
	a.done.Go(func() { _ = a.client.WatchX509Context(a.ctx, x509Watcher{a}) })
	a.done.Go(func() { _ = a.client.WatchJWTBundles(a.ctx, jwtWatcher{a}) })
}

// close ends the watches and the connection.
func (a *agent) close() {
	a.cancel()
	a.done.Wait()
	_ = a.client.Close()
	close(a.closed)
}

// x509Watcher and jwtWatcher receive go-spiffe's stream events.
type x509Watcher struct{ a *agent }

func (w x509Watcher) OnX509ContextUpdate(c *workloadapi.X509Context) { w.a.setX509(c) }
func (w x509Watcher) OnX509ContextWatchError(err error)              { w.a.streamFailed("X.509-SVID", err) }

type jwtWatcher struct{ a *agent }

func (w jwtWatcher) OnJWTBundlesUpdate(s *jwtbundle.Set) { w.a.setJWTBundles(s) }
func (w jwtWatcher) OnJWTBundlesWatchError(err error)    { w.a.streamFailed("JWT bundle", err) }

func (a *agent) setX509(c *workloadapi.X509Context) {
	a.mu.Lock()
	a.x509, a.x509Err = c, nil
	close(a.rotated)
	a.rotated = make(chan struct{})
	a.mu.Unlock()
	a.log().Debug("X.509 context received", logSocket, a.cfg.addr, logSVIDs, len(c.SVIDs))
	a.noteReadiness()
}

func (a *agent) setJWTBundles(s *jwtbundle.Set) {
	a.mu.Lock()
	a.jwtSeen, a.jwtErr = true, nil
	a.mu.Unlock()
	a.onBundles(s)
	a.noteReadiness()
}

func (a *agent) streamFailed(stream string, err error) {
	if status.Code(err) == codes.Canceled || errors.Is(err, context.Canceled) {
		return // close, or a reconfiguration
	}
	err = fmt.Errorf("%s stream: %w", stream, err)
	a.mu.Lock()
	if stream == "X.509-SVID" {
		a.x509Err = err
	} else {
		a.jwtErr = err
	}
	if a.downAt.IsZero() {
		a.downAt = time.Now()
	}
	a.mu.Unlock()
	a.noteReadiness()
}

// noteReadiness logs transitions between ready and not ready once each.
func (a *agent) noteReadiness() {
	st := a.status()
	a.mu.Lock()
	changed := st.Ready != a.wasReady
	a.wasReady = st.Ready
	if st.Ready {
		a.downAt = time.Time{}
	}
	a.mu.Unlock()
	if !changed {
		return
	}
	if st.Ready {
		a.log().Info("SPIRE agent serving", logSocket, a.cfg.addr)
	} else {
		a.log().Warn("SPIRE agent not serving", logSocket, a.cfg.addr, logReason, st.Message)
	}
}

// status reports readiness: both streams delivering and an SVID for the
// configured identity.
func (a *agent) status() sdk.Status {
	a.mu.Lock()
	x509, x509Err, jwtSeen, jwtErr, downAt := a.x509, a.x509Err, a.jwtSeen, a.jwtErr, a.downAt
	a.mu.Unlock()
	st := sdk.Status{}
	if tok, ok := a.tokens.latest(); ok {
		st.TokenIssuedAt, st.TokenExpiresAt = tok.IssuedAt, tok.ExpiresAt
	}
	problem := x509Err
	if problem == nil {
		problem = jwtErr
	}
	switch {
	case problem != nil && status.Code(errors.Unwrap(problem)) == codes.PermissionDenied:
		st.Message = fmt.Sprintf("the SPIRE agent at %s issues no identity to this workload (%v): register an entry for it", a.cfg.addr, problem)
	case problem != nil && (x509 != nil || jwtSeen):
		st.Message = fmt.Sprintf("SPIRE agent at %s unreachable since %s (%v); serving cached SVIDs and bundles until they expire", a.cfg.addr, downAt.UTC().Format(time.RFC3339), problem)
	case problem != nil:
		st.Message = fmt.Sprintf("waiting for the SPIRE agent at %s: %v", a.cfg.addr, problem)
	case x509 == nil || !jwtSeen:
		st.Message = fmt.Sprintf("connecting to the SPIRE agent at %s", a.cfg.addr)
	default:
		svid, err := a.pickSVID(x509)
		if err != nil {
			st.Message = err.Error()
			return st
		}
		st.Ready = true
		st.Message = fmt.Sprintf("serving %s from the SPIRE agent at %s", svid.ID, a.cfg.addr)
	}
	return st
}

// refused reports the agent's "no identity issued" answer on the X.509
// stream: the identity is withdrawn, so its cached SVID must not stand in.
func (a *agent) refused() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.x509Err != nil && status.Code(errors.Unwrap(a.x509Err)) == codes.PermissionDenied {
		return a.x509Err
	}
	return nil
}

// x509Context returns the last X.509 context (nil before the first) and a
// channel closed at the next one.
func (a *agent) x509Context() (*workloadapi.X509Context, <-chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.x509, a.rotated
}

// pickSVID selects the configured identity from an X.509 context.
func (a *agent) pickSVID(c *workloadapi.X509Context) (*x509svid.SVID, error) {
	if len(c.SVIDs) == 0 {
		return nil, fmt.Errorf("the SPIRE agent at %s issues no X.509-SVID to this workload: register an entry for it", a.cfg.addr)
	}
	if a.cfg.target.IsZero() {
		return c.DefaultSVID(), nil
	}
	for _, svid := range c.SVIDs {
		if svid.ID == a.cfg.target {
			return svid, nil
		}
	}
	return nil, fmt.Errorf("the SPIRE agent at %s issues no SVID for target_spiffe_id %s to this workload (it has %d others): register an entry or fix target_spiffe_id", a.cfg.addr, a.cfg.target, len(c.SVIDs))
}
