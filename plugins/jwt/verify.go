package jwt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/jwtverify"
)

// Verify checks a token with the keys the plugin publishes. A token the
// published keys cannot judge (unknown kid or issuer keys not fetched yet)
// makes an allowed issuer's keys refresh once; what stays undecided is
// untrusted.
func (p *Plugin) Verify(ctx context.Context, req sdk.VerifyRequest) (sdk.Identity, error) {
	rt, err := p.current()
	if err != nil {
		return sdk.Identity{}, err
	}
	if rt.setup.verifier == nil {
		return sdk.Identity{}, fmt.Errorf("%w: Verify needs a verifier section in the jwt plugin's config", sdk.ErrUnsupported)
	}
	at := req.At
	if at.IsZero() {
		at = time.Now()
	}
	pub := p.pub.Load()
	if pub.verifier == nil {
		return sdk.Identity{}, sdk.Unavailable("jwt: no keys published yet")
	}
	id, err := pub.verifier.Verify(req.Token, req.Audiences, at)
	if errors.Is(err, jwtverify.ErrUndecided) && rt.resolver != nil {
		if err := rt.resolver.refreshFor(ctx, req.Token); err != nil {
			return sdk.Identity{}, err
		}
		// Keys may have arrived through this refresh or another one that
		// ended meanwhile.
		if now := p.pub.Load(); now != pub {
			id, err = now.verifier.Verify(req.Token, req.Audiences, at)
		}
	}
	if errors.Is(err, jwtverify.ErrUndecided) {
		return sdk.Identity{}, sdk.Reject(sdk.ErrUntrusted, "%s", strings.TrimPrefix(err.Error(), jwtverify.ErrUndecided.Error()+": "))
	}
	return id, err
}

// WatchKeys sends the published snapshot at once and every newer one,
// until ctx ends or send fails. Rapid changes may be coalesced: the latest
// snapshot is always sent.
func (p *Plugin) WatchKeys(ctx context.Context, send func(sdk.KeySnapshot) error) error {
	rt, err := p.current()
	if err != nil {
		return err
	}
	if rt.setup.verifier == nil {
		return fmt.Errorf("%w: WatchKeys needs a verifier section in the jwt plugin's config", sdk.ErrUnsupported)
	}
	pub := p.pub.Load()
	for {
		if err := send(pub.snap); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-pub.changed:
		}
		pub = p.pub.Load()
	}
}
