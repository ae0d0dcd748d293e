package broker

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/slimid/slimid/sdk"
)

// WatchToken sends a token for the local workload at once and a fresh one
// before each expiry, until ctx ends or send fails. It survives plugin
// restarts and reloads: the next instance delivers the next token. Plugins
// that cannot push tokens are polled at half of each token's lifetime.
func (b *Broker) WatchToken(ctx context.Context, plugin string, req sdk.TokenRequest, send func(sdk.Token) error) error {
	s, err := b.pick(plugin, sdk.CapFetchToken)
	if err != nil {
		return err
	}
	var last sdk.Token
	deliver := func(tok sdk.Token) error {
		if tok.Value == last.Value || !tok.ExpiresAt.After(time.Now()) {
			return nil // a repeat, or already expired: never hand that out
		}
		last = tok
		b.metrics.tokenExpiry.set(s.name, tok.ExpiresAt)
		return send(tok)
	}
	failures := 0
	for {
		in := s.cur.Load()
		if in != nil {
			err = b.watchInstance(ctx, in, req, deliver)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var sendErr *sendError
			if errors.As(err, &sendErr) {
				return sendErr.err
			}
			if err != nil {
				b.log.Warn("token watch interrupted", "plugin", s.name, "error", err)
				if errors.Is(err, sdk.ErrInvalidConfig) || errors.Is(err, sdk.ErrRejected) {
					return err
				}
			}
			if in.isRetired() || s.cur.Load() != in {
				failures = 0
				continue // replaced: go straight to the new instance
			}
		}
		failures++
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(retryDelay(failures)):
		}
	}
}

// sendError marks a failure of the caller's send, which ends the watch.
type sendError struct{ err error }

func (e *sendError) Error() string { return e.err.Error() }

// watchInstance follows one instance until it is retired, fails, or ctx
// ends.
func (b *Broker) watchInstance(ctx context.Context, in *instance, req sdk.TokenRequest, deliver func(sdk.Token) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(in.ctx, cancel)
	defer stop()
	send := func(tok sdk.Token) error {
		if err := deliver(tok); err != nil {
			return &sendError{err}
		}
		return nil
	}
	if in.info.Has(sdk.CapWatchToken) {
		return in.client.WatchToken(ctx, req, send)
	}
	for {
		tok, err := in.client.FetchToken(ctx, req)
		if err != nil {
			return err
		}
		if err := send(tok); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(refreshDelay(tok, time.Now())):
		}
	}
}

// refreshDelay is half of the token's remaining lifetime (as SPIRE agents and
// spiffe-helper do), with ±10% jitter, at least one second.
func refreshDelay(tok sdk.Token, now time.Time) time.Duration {
	d := tok.ExpiresAt.Sub(now) / 2
	d = time.Duration(float64(d) * (0.9 + 0.2*rand.Float64()))
	return max(d, time.Second)
}

// retryDelay backs off 1 s, 2 s, 4 s ... up to 60 s.
func retryDelay(failures int) time.Duration {
	d := time.Second
	for i := 1; i < failures && d < time.Minute; i++ {
		d *= 2
	}
	return min(d, time.Minute)
}
