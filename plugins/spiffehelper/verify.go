package spiffehelper

import (
	"context"
	"errors"
	"time"

	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/jwtverify"
)

// Verify checks a JWT-SVID against key.jwt with the same snapshot WatchKeys
// publishes: signature by a key of the subject's trust domain (kid
// required), exp, nbf and iat with leeway, and the audiences (the request's,
// or jwt_audiences). A bound key comes from SLIM's slim-claims audience.
func (p *Plugin) Verify(_ context.Context, req sdk.VerifyRequest) (sdk.Identity, error) {
	v, err := p.current()
	if err != nil {
		return sdk.Identity{}, err
	}
	if v.keys == nil {
		return sdk.Identity{}, sdk.Unavailable("no JWT bundle yet: waiting for spiffe-helper to write %s", v.cfg.bundlePath)
	}
	at := req.At
	if at.IsZero() {
		at = time.Now()
	}
	id, err := v.keys.verifier.Verify(req.Token, req.Audiences, at)
	if errors.Is(err, jwtverify.ErrUndecided) {
		return sdk.Identity{}, sdk.Reject(sdk.ErrUntrusted, "no key in %s vouches for this token (%v)", v.cfg.bundlePath, err)
	}
	return id, err
}

// WatchKeys sends the key snapshot at once and a new one each time key.jwt
// changes, until ctx ends or send fails. Before key.jwt is read the
// snapshot is empty.
func (p *Plugin) WatchKeys(ctx context.Context, send func(sdk.KeySnapshot) error) error {
	sent, last := false, uint64(0)
	for {
		pub := p.pub.Load()
		if pub.view == nil {
			return sdk.ErrNotConfigured
		}
		if snap := pub.view.snapshot(); !sent || snap.Generation != last {
			if err := send(snap); err != nil {
				return err
			}
			sent, last = true, snap.Generation
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-pub.changed:
		}
	}
}
