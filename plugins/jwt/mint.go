package jwt

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/slimid/slimid/sdk"
)

// FetchToken mints a token as SLIM does: iss, aud (an array), sub, iat = nbf
// = now, exp = now + duration, the custom claims at the top level and
// `pubkey` (standard base64 of the requested key). The header's kid is the
// configured kid, else the subject. A TTL hint may shorten the lifetime,
// never lengthen it.
func (p *Plugin) FetchToken(_ context.Context, req sdk.TokenRequest) (sdk.Token, error) {
	rt, err := p.current()
	if err != nil {
		return sdk.Token{}, err
	}
	ps := rt.setup.provider
	if ps == nil {
		return sdk.Token{}, fmt.Errorf("%w: FetchToken needs a provider section in the jwt plugin's config", sdk.ErrUnsupported)
	}
	return ps.mint(rt.signer.Load(), req, time.Now())
}

func (ps *providerSetup) mint(key *signingKey, req sdk.TokenRequest, now time.Time) (sdk.Token, error) {
	audience := ps.audience
	if len(req.Audiences) > 0 {
		if slices.Contains(req.Audiences, "") {
			return sdk.Token{}, fmt.Errorf("%w: a requested audience is empty", sdk.ErrInvalidConfig)
		}
		audience = req.Audiences
	}
	lifetime := ps.duration
	if req.TTLHint > 0 && req.TTLHint < lifetime {
		lifetime = min(max(req.TTLHint.Round(time.Second), time.Second), ps.duration)
	}
	iat := now.Truncate(time.Second)
	exp := iat.Add(lifetime)

	claims := maps.Clone(ps.custom)
	if claims == nil {
		claims = map[string]any{}
	}
	if ps.issuer != "" {
		claims["iss"] = ps.issuer
	}
	claims["sub"] = ps.subject
	claims["aud"] = audience
	claims["iat"] = iat.Unix()
	claims["nbf"] = iat.Unix()
	claims["exp"] = exp.Unix()
	if len(req.PublicKey) > 0 {
		claims["pubkey"] = base64.StdEncoding.EncodeToString(req.PublicKey)
	}
	kid := ps.kid
	if kid == "" {
		kid = ps.subject
	}
	header := map[string]string{"alg": key.alg.String(), "typ": "JWT", "kid": kid}
	input, err := encodeSegments(header, claims)
	if err != nil {
		return sdk.Token{}, err
	}
	sig, err := key.signer.Sign([]byte(input), key.raw)
	if err != nil {
		return sdk.Token{}, sdk.Unavailable("jwt: signing failed: %v", err)
	}
	return sdk.Token{
		Value:     input + "." + base64.RawURLEncoding.EncodeToString(sig),
		Subject:   ps.subject,
		IssuedAt:  iat,
		ExpiresAt: exp,
	}, nil
}

// encodeSegments is the signing input: base64url header "." payload.
func encodeSegments(header, claims any) (string, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("jwt: header does not encode: %v", err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("jwt: claims do not encode: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c), nil
}
