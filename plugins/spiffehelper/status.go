package spiffehelper

import (
	"context"
	"fmt"
	"time"

	"github.com/slimid/slimid/sdk"
)

// Status is ready while the plugin holds a valid, unexpired JWT-SVID; it
// reports that token's issue and expiry times.
func (p *Plugin) Status(context.Context) sdk.Status {
	v, err := p.current()
	if err != nil {
		return sdk.Status{Message: "not configured"}
	}
	t := v.token
	if t == nil {
		return sdk.Status{Message: "no valid JWT-SVID: " + v.tokenProblem}
	}
	st := sdk.Status{TokenIssuedAt: t.id.IssuedAt, TokenExpiresAt: t.id.ExpiresAt}
	now := time.Now()
	if !t.live(now) {
		st.Message = fmt.Sprintf("the JWT-SVID in %s expired at %s and spiffe-helper has not written a new one", v.cfg.tokenPath, stamp(t.id.ExpiresAt))
		return st
	}
	st.Ready = true
	st.Message = fmt.Sprintf("JWT-SVID for %s expires in %s", t.id.Subject, t.id.ExpiresAt.Sub(now).Round(time.Second))
	return st
}
