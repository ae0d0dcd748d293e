package spire

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc"
	grpcbackoff "google.golang.org/grpc/backoff"
)

// Reconnection pacing. The agent restarts in well under a second, so the
// first retries come quickly; a long outage settles at one try every few
// seconds.
const (
	retryFirst = 100 * time.Millisecond
	retryMax   = 5 * time.Second
)

// dialOptions make gRPC redial a restarted agent as quickly as the watch
// loops retry; its default backoff grows to two minutes.
func dialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
		Backoff: grpcbackoff.Config{
			BaseDelay:  retryFirst,
			Multiplier: 2,
			Jitter:     0.2,
			MaxDelay:   retryMax,
		},
		MinConnectTimeout: 5 * time.Second,
	})}
}

// retryStrategy paces go-spiffe's watch retries: exponential with jitter.
type retryStrategy struct{}

var _ workloadapi.BackoffStrategy = retryStrategy{}

func (retryStrategy) NewBackoff() workloadapi.Backoff { return &retry{} }

// retry is one backoff sequence; the zero value starts at retryFirst.
type retry struct{ next time.Duration }

func (r *retry) Next() time.Duration {
	if r.next == 0 {
		r.next = retryFirst
	}
	d := r.next
	r.next = min(2*r.next, retryMax)
	return jitter(d, 0.2)
}

func (r *retry) Reset() { r.next = 0 }

// jitter spreads d by ±frac so that many workloads do not retry in step.
func jitter(d time.Duration, frac float64) time.Duration {
	return time.Duration(float64(d) * (1 - frac + 2*frac*rand.Float64()))
}

// spiffeLogger hands go-spiffe's messages to slog at debug level: its
// retries repeat for as long as an outage lasts, and the plugin logs the
// transitions itself.
type spiffeLogger struct{ log func() *slog.Logger }

func (l spiffeLogger) Debugf(format string, args ...any) { l.emit(format, args) }
func (l spiffeLogger) Infof(format string, args ...any)  { l.emit(format, args) }
func (l spiffeLogger) Warnf(format string, args ...any)  { l.emit(format, args) }
func (l spiffeLogger) Errorf(format string, args ...any) { l.emit(format, args) }

func (l spiffeLogger) emit(format string, args []any) {
	l.log().Debug(fmt.Sprintf(format, args...), logSource, "go-spiffe")
}
