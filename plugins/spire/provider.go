package spire

import (
	"context"
	"time"

	"github.com/slimid/slimid/sdk"
)

// FetchToken returns a JWT-SVID for the requested (or configured)
// audiences. A bound public key travels as SLIM's extra audience
// `slim-claims:<base64 JSON {"pubkey": ...}>`, since SPIRE cannot add
// claims; Verify reads it back and strips it. TTLHint is ignored: the
// registration entry sets the lifetime.
func (p *Plugin) FetchToken(ctx context.Context, req sdk.TokenRequest) (sdk.Token, error) {
	a, err := p.agent()
	if err != nil {
		return sdk.Token{}, err
	}
	auds, err := audiencesFor(req, a.cfg.audiences)
	if err != nil {
		return sdk.Token{}, err
	}
	return a.fetchToken(ctx, auds)
}

// WatchToken sends a token at once, then a fresh one at half of each
// token's lifetime (plus jitter) and after every X.509-SVID rotation the
// agent streams, until ctx ends or send fails. JWT-SVIDs cannot be
// watched, only fetched: the agent hands every caller the same token until
// about half its lifetime, so a fetch before then brings nothing new. While
// the agent is away it retries with backoff; it ends with an outage only
// when the last token sent has expired.
func (p *Plugin) WatchToken(ctx context.Context, req sdk.TokenRequest, send func(sdk.Token) error) error {
	var last sdk.Token
	var failures retry
	for {
		a, err := p.agent()
		if err != nil {
			return err
		}
		auds, err := audiencesFor(req, a.cfg.audiences)
		if err != nil {
			return err
		}
		_, rotated := a.x509Context()
		tok, err := a.fetchToken(ctx, auds)
		now := time.Now()
		var next time.Time
		switch {
		case err == nil:
			failures.Reset()
			if tok.Value != last.Value {
				if err := send(tok); err != nil {
					return err
				}
				last = tok
			}
			next = refreshAt(last, now)
		case ctx.Err() != nil:
			return ctx.Err()
		case last.Value == "" || !now.Before(last.ExpiresAt):
			return err
		default:
			next = now.Add(failures.Next())
			p.logger().Warn("token refresh failed; retrying", logError, err.Error(), logExpires, last.ExpiresAt)
		}
		timer := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		case <-rotated:
		case <-a.closed: // reconfigured: continue with the new agent
		}
		timer.Stop()
	}
}
