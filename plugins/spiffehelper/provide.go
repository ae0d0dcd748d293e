package spiffehelper

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/slimid/slimid/sdk"
)

// FetchToken returns the JWT-SVID spiffe-helper wrote. The plugin cannot
// mint: spiffe-helper's jwt_audience fixes the audiences and no key can be
// bound into a JWT-SVID after the fact. A request the token does not fit
// (another audience, a public key it does not carry) fails with
// sdk.ErrUnsupported, saying what the token holds, rather than handing out a
// token the requester's peers would refuse.
func (p *Plugin) FetchToken(_ context.Context, req sdk.TokenRequest) (sdk.Token, error) {
	v, err := p.current()
	if err != nil {
		return sdk.Token{}, err
	}
	t, err := v.liveToken(time.Now())
	if err != nil {
		return sdk.Token{}, err
	}
	if err := t.fits(req, v.cfg.tokenPath); err != nil {
		return sdk.Token{}, err
	}
	return t.asToken(), nil
}

// WatchToken sends the current JWT-SVID at once (or as soon as one is
// valid) and each newer one spiffe-helper writes, until ctx ends or send
// fails. It ends with an error when a token does not fit req.
func (p *Plugin) WatchToken(ctx context.Context, req sdk.TokenRequest, send func(sdk.Token) error) error {
	last := ""
	for {
		pub := p.pub.Load()
		if pub.view == nil {
			return sdk.ErrNotConfigured
		}
		if t := pub.view.token; t.live(time.Now()) && t.value != last {
			if err := t.fits(req, pub.view.cfg.tokenPath); err != nil {
				return err
			}
			if err := send(t.asToken()); err != nil {
				return err
			}
			last = t.value
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-pub.changed:
		}
	}
}

// liveToken is the token in force, or an outage saying why there is none.
func (v *view) liveToken(now time.Time) (*token, error) {
	switch {
	case v.token == nil:
		return nil, sdk.Unavailable("no valid JWT-SVID: %s", v.tokenProblem)
	case !v.token.live(now):
		return nil, sdk.Unavailable("the JWT-SVID in %s expired at %s and spiffe-helper has not written a new one",
			v.cfg.tokenPath, stamp(v.token.id.ExpiresAt))
	}
	return v.token, nil
}

// fits checks that the token is what req asks for.
func (t *token) fits(req sdk.TokenRequest, path string) error {
	for _, a := range req.Audiences {
		if !slices.Contains(t.id.Audiences, a) {
			return fmt.Errorf("%w: the JWT-SVID in %s is for %q, not %q; spiffe-helper's jwt_audience fixes its audiences",
				sdk.ErrUnsupported, path, t.id.Audiences, a)
		}
	}
	switch {
	case len(req.PublicKey) == 0:
	case t.id.PublicKey == nil:
		return fmt.Errorf("%w: the JWT-SVID in %s binds no public key and spiffe-helper cannot bind one; use the spire plugin to mint tokens that carry it",
			sdk.ErrUnsupported, path)
	case !bytes.Equal(t.id.PublicKey, req.PublicKey):
		return fmt.Errorf("%w: the JWT-SVID in %s binds another public key than the one requested",
			sdk.ErrUnsupported, path)
	}
	return nil
}
