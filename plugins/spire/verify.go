package spire

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/jwtverify"
)

// Verify checks a JWT-SVID against the JWT bundles the agent streamed last
// (its own trust domain and federated ones), with the same verifier and
// snapshot that WatchKeys publishes, so the broker's in-process verdicts
// and this one always agree. Bundles stay in force while the agent is
// away.
func (p *Plugin) Verify(ctx context.Context, req sdk.VerifyRequest) (sdk.Identity, error) {
	a, err := p.agent()
	if err != nil {
		return sdk.Identity{}, err
	}
	if strings.Count(req.Token, ".") != 2 {
		return sdk.Identity{}, sdk.Reject(sdk.ErrInvalid, "spire: the token is not a JWT-SVID: want three base64url parts separated by dots")
	}
	_, v, _ := p.keys.current()
	if v == nil {
		if err := p.keys.problem(); err != nil {
			return sdk.Identity{}, sdk.Unavailable("spire: the JWT bundles from the SPIRE agent at %s are unusable: %v", a.cfg.addr, err)
		}
		return sdk.Identity{}, sdk.Unavailable("spire: no JWT bundles from the SPIRE agent yet: %s", a.status().Message)
	}
	auds := req.Audiences
	if len(auds) == 0 {
		auds = a.cfg.audiences
	}
	at := req.At
	if at.IsZero() {
		at = time.Now()
	}
	id, err := v.Verify(req.Token, auds, at)
	if errors.Is(err, jwtverify.ErrUndecided) {
		return sdk.Identity{}, sdk.Reject(sdk.ErrUntrusted, "spire: no JWT authority of a trust domain the agent trusts signed this token (%v)", err)
	}
	return id, err
}

// WatchKeys publishes the JWT bundles as key sets, one per trust domain:
// the current snapshot once the agent has sent bundles, then a new
// generation on every change, until ctx ends or send fails.
func (p *Plugin) WatchKeys(ctx context.Context, send func(sdk.KeySnapshot) error) error {
	if _, err := p.agent(); err != nil {
		return err
	}
	return p.keys.watch(ctx, send)
}
