package spire

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/jwtverify"
)

const (
	// fetchTimeout bounds one Workload API call.
	fetchTimeout = 5 * time.Second
	// minRemaining: a cached token closer to its expiry than this is not
	// handed out during an outage.
	minRemaining = time.Second
	// maxBoundKey bounds TokenRequest.PublicKey: MLS signature keys are at
	// most 133 bytes (P-521).
	maxBoundKey = 256
	// cachedTokens bounds the tokens kept for outages: one per audience set,
	// and every bound key makes its own audience set.
	cachedTokens = 256
)

// tokenCache keeps the last JWT-SVID per audience set, to serve through an
// agent outage.
type tokenCache struct {
	byAudiences *lru.Cache[string, sdk.Token]
	mu          sync.Mutex
	last        sdk.Token
}

func newTokenCache() *tokenCache {
	c, _ := lru.New[string, sdk.Token](cachedTokens) // fails only for a size < 1
	return &tokenCache{byAudiences: c}
}

func (c *tokenCache) put(key string, tok sdk.Token) {
	c.byAudiences.Add(key, tok)
	c.mu.Lock()
	c.last = tok
	c.mu.Unlock()
}

func (c *tokenCache) get(key string) (sdk.Token, bool) { return c.byAudiences.Get(key) }

// latest is the token most recently fetched, for Status.
func (c *tokenCache) latest() (sdk.Token, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last, c.last.Value != ""
}

// audiencesFor is what a token request asks the agent for: the requested
// (or configured) audiences, plus SLIM's slim-claims audience carrying the
// bound key.
func audiencesFor(req sdk.TokenRequest, configured []string) ([]string, error) {
	auds := configured
	if len(req.Audiences) > 0 {
		if err := checkAudiences(req.Audiences); err != nil {
			return nil, sdk.InvalidConfig("token request: %v", err)
		}
		auds = req.Audiences
	}
	auds = append([]string(nil), auds...)
	if len(req.PublicKey) > 0 {
		if len(req.PublicKey) > maxBoundKey {
			return nil, sdk.InvalidConfig("token request: public key is %d bytes; an MLS signature key has at most %d", len(req.PublicKey), maxBoundKey)
		}
		claims, err := jwtverify.SlimClaimsAudience(map[string]any{"pubkey": base64.StdEncoding.EncodeToString(req.PublicKey)})
		if err != nil {
			return nil, fmt.Errorf("encode the bound key as a slim-claims audience: %w", err)
		}
		auds = append(auds, claims)
	}
	return auds, nil
}

// fetchToken asks the agent for a JWT-SVID. When the agent cannot be
// reached it falls back to the last token for the same audiences, if that
// one is still valid; it never hands out an expired token.
func (a *agent) fetchToken(ctx context.Context, auds []string) (sdk.Token, error) {
	key := strings.Join(auds, "\x00")
	callCtx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	svid, err := a.client.FetchJWTSVID(callCtx, jwtsvid.Params{Audience: auds[0], ExtraAudiences: auds[1:], Subject: a.cfg.target})
	now := time.Now()
	if err == nil {
		tok := tokenFromSVID(svid)
		if tok.ExpiresAt.After(now) {
			a.tokens.put(key, tok)
			return tok, nil
		}
		err = fmt.Errorf("it handed out a JWT-SVID that expired at %s", tok.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if ctx.Err() != nil {
		return sdk.Token{}, ctx.Err()
	}
	if unreachable(err) {
		if tok, ok := a.tokens.get(key); ok && tok.ExpiresAt.Sub(now) >= minRemaining {
			a.log().Debug("SPIRE agent unreachable: serving the cached JWT-SVID", logSocket, a.cfg.addr, logExpires, tok.ExpiresAt, logError, err.Error())
			return tok, nil
		}
	}
	return sdk.Token{}, sdk.Unavailable("fetch a JWT-SVID from the SPIRE agent at %s: %v", a.cfg.addr, err)
}

// unreachable tells an outage (the cached token may stand in) from an
// answer such as "no identity issued" (it may not).
func unreachable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Unknown:
		return true
	}
	return false
}

func tokenFromSVID(svid *jwtsvid.SVID) sdk.Token {
	return sdk.Token{
		Value:     svid.Marshal(),
		Subject:   svid.ID.String(),
		IssuedAt:  numericDate(svid.Claims["iat"]),
		ExpiresAt: svid.Expiry,
	}
}

// numericDate reads a JWT NumericDate decoded from JSON.
func numericDate(v any) time.Time {
	var secs float64
	switch n := v.(type) {
	case float64:
		secs = n
	case json.Number:
		secs, _ = n.Float64()
	case int64:
		secs = float64(n)
	default:
		return time.Time{}
	}
	return time.Unix(0, int64(secs*float64(time.Second))).UTC()
}

// refreshAt is when to ask for the next token: at half of the lifetime, as
// the agent renews (it hands every caller the same token until then), plus
// up to a tenth of the lifetime of jitter so that workloads spread out.
func refreshAt(tok sdk.Token, now time.Time) time.Time {
	issued := tok.IssuedAt
	if issued.IsZero() || !issued.Before(tok.ExpiresAt) {
		issued = now
	}
	life := tok.ExpiresAt.Sub(issued)
	at := issued.Add(life/2 + rand.N(life/10+1))
	if !at.After(now) {
		// Past the renewal point and still the same token: try again soon,
		// but well before it expires.
		at = now.Add(min(time.Second, max(tok.ExpiresAt.Sub(now)/4, 10*time.Millisecond)))
	}
	return at
}
