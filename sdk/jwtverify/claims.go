package jwtverify

import (
	"encoding/base64"
	"math"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/slimid/slimid/sdk"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// maxNumericDate is 9999-12-31T23:59:59Z; later dates are malformed.
const maxNumericDate = 253402300799

// checkClaims applies the set's rules to verified claims and builds the
// identity they prove. Checks run from validity to trust to audience to
// policy, so a token fails on its most basic fault.
func (s *keySet) checkClaims(claims map[string]any, audiences []string, now time.Time) (sdk.Identity, error) {
	if len(audiences) == 0 {
		audiences = s.rules.Audiences
	}
	if len(audiences) == 0 {
		return sdk.Identity{}, sdk.InvalidConfig("no expected audience: the request names none and key set %q has none configured", s.name)
	}
	exp, iat, err := s.checkTimes(claims, now)
	if err != nil {
		return sdk.Identity{}, err
	}
	iss, err := stringClaim(claims, "iss")
	if err != nil {
		return sdk.Identity{}, err
	}
	if len(s.rules.Issuers) > 0 && !slices.Contains(s.rules.Issuers, iss) {
		if iss == "" {
			return sdk.Identity{}, sdk.Reject(sdk.ErrUntrusted, "token has no iss claim; key set %q trusts only %q", s.name, s.rules.Issuers)
		}
		return sdk.Identity{}, sdk.Reject(sdk.ErrUntrusted, "issuer %q is not trusted by key set %q", iss, s.name)
	}
	sub, err := subject(claims)
	if err != nil {
		return sdk.Identity{}, err
	}
	if s.trustDomain != "" && !inTrustDomain(sub, s.trustDomain) {
		return sdk.Identity{}, sdk.Reject(sdk.ErrUntrusted, "subject %q is not a SPIFFE ID in trust domain %q", sub, s.trustDomain)
	}
	auds, extra, err := s.audiences(claims)
	if err != nil {
		return sdk.Identity{}, err
	}
	if !anyOf(auds, audiences) {
		if len(auds) == 0 {
			return sdk.Identity{}, sdk.Reject(sdk.ErrAudience, "token has no audience; expected one of %q", audiences)
		}
		return sdk.Identity{}, sdk.Reject(sdk.ErrAudience, "token audience %q includes none of the expected %q", auds, audiences)
	}
	if err := s.checkPolicy(sub, claims); err != nil {
		return sdk.Identity{}, err
	}
	for name, value := range extra {
		if _, ok := claims[name]; !ok {
			claims[name] = value
		}
	}
	pub, err := publicKey(claims)
	if err != nil {
		return sdk.Identity{}, err
	}
	if iss == "" && s.trustDomain != "" {
		iss = "spiffe://" + s.trustDomain
	}
	return sdk.Identity{
		Subject:   sub,
		Issuer:    iss,
		Audiences: auds,
		IssuedAt:  iat,
		ExpiresAt: exp,
		PublicKey: pub,
		Claims:    claims,
	}, nil
}

// checkTimes enforces exp (required), nbf and iat with the set's leeway.
func (s *keySet) checkTimes(claims map[string]any, now time.Time) (exp, iat time.Time, err error) {
	leeway := s.rules.Leeway
	exp, ok, err := numericDate(claims, "exp")
	if err != nil {
		return exp, iat, err
	}
	if !ok {
		return exp, iat, sdk.Reject(sdk.ErrInvalid, "token has no exp claim")
	}
	if !now.Before(exp.Add(leeway)) {
		return exp, iat, sdk.Reject(sdk.ErrExpired, "token expired at %s (now %s, leeway %s)", stamp(exp), stamp(now), leeway)
	}
	nbf, ok, err := numericDate(claims, "nbf")
	if err != nil {
		return exp, iat, err
	}
	if ok && now.Add(leeway).Before(nbf) {
		return exp, iat, sdk.Reject(sdk.ErrNotYetValid, "token is not valid before %s (now %s, leeway %s)", stamp(nbf), stamp(now), leeway)
	}
	iat, ok, err = numericDate(claims, "iat")
	if err != nil {
		return exp, iat, err
	}
	if ok && iat.After(now.Add(leeway)) {
		return exp, iat, sdk.Reject(sdk.ErrNotYetValid, "token was issued in the future, at %s (now %s, leeway %s)", stamp(iat), stamp(now), leeway)
	}
	return exp, iat, nil
}

// checkPolicy applies subject patterns and required claims.
func (s *keySet) checkPolicy(sub string, claims map[string]any) error {
	if len(s.subjects) > 0 && !slices.ContainsFunc(s.subjects, func(re *regexp.Regexp) bool { return re.MatchString(sub) }) {
		return sdk.Reject(sdk.ErrPolicy, "subject %q matches none of the subject patterns of key set %q", sub, s.name)
	}
	for _, cond := range s.rules.RequiredClaims {
		v, ok := claims[cond.Claim]
		if !ok {
			return sdk.Reject(sdk.ErrPolicy, "claim %q is missing; key set %q requires one of %q", cond.Claim, s.name, cond.AnyOf)
		}
		if !claimMatches(v, cond.AnyOf) {
			return sdk.Reject(sdk.ErrPolicy, "claim %q has none of the values %q that key set %q requires", cond.Claim, cond.AnyOf, s.name)
		}
	}
	return nil
}

// claimMatches compares a claim with accepted values as strings; an array
// claim matches when one of its elements does.
func claimMatches(v any, anyOf []string) bool {
	if list, ok := v.([]any); ok {
		return slices.ContainsFunc(list, func(e any) bool { return claimMatches(scalarOnly(e), anyOf) })
	}
	s, ok := scalarString(v)
	return ok && slices.Contains(anyOf, s)
}

func scalarOnly(v any) any {
	if _, ok := v.([]any); ok {
		return nil
	}
	return v
}

func scalarString(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case bool:
		return strconv.FormatBool(t), true
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), true
	}
	return "", false
}

// numericDate reads a NumericDate claim (RFC 7519 §2).
func numericDate(claims map[string]any, name string) (time.Time, bool, error) {
	v, ok := claims[name]
	if !ok {
		return time.Time{}, false, nil
	}
	f, isNum := v.(float64)
	if !isNum {
		return time.Time{}, false, sdk.Reject(sdk.ErrInvalid, "%s claim is not a number", name)
	}
	if math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, false, sdk.Reject(sdk.ErrInvalid, "%s claim %v is out of range", name, f)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true, nil
}

func stringClaim(claims map[string]any, name string) (string, error) {
	v, ok := claims[name]
	if !ok {
		return "", nil
	}
	s, isString := v.(string)
	if !isString {
		return "", sdk.Reject(sdk.ErrInvalid, "%s claim is not a string", name)
	}
	return s, nil
}

// subject is `sub`, or SLIM's fallback `id`.
func subject(claims map[string]any) (string, error) {
	sub, err := stringClaim(claims, "sub")
	if err != nil || sub != "" {
		return sub, err
	}
	id, err := stringClaim(claims, "id")
	if err != nil || id != "" {
		return id, err
	}
	return "", sdk.Reject(sdk.ErrInvalid, "token has neither a sub nor an id claim")
}

func inTrustDomain(sub, trustDomain string) bool {
	id, err := spiffeid.FromString(sub)
	return err == nil && id.TrustDomain().Name() == trustDomain
}

// audiences reads `aud` (a string or an array of strings). With SLIM's
// slim-claims audiences enabled, those entries are decoded into extra
// claims and left out of the list.
func (s *keySet) audiences(claims map[string]any) (auds []string, extra map[string]any, err error) {
	switch v := claims["aud"].(type) {
	case nil:
		if _, present := claims["aud"]; present {
			return nil, nil, sdk.Reject(sdk.ErrInvalid, "aud claim is not a string or an array of strings")
		}
	case string:
		auds = []string{v}
	case []any:
		auds = make([]string, 0, len(v))
		for _, e := range v {
			str, ok := e.(string)
			if !ok {
				return nil, nil, sdk.Reject(sdk.ErrInvalid, "aud claim is not a string or an array of strings")
			}
			auds = append(auds, str)
		}
	default:
		return nil, nil, sdk.Reject(sdk.ErrInvalid, "aud claim is not a string or an array of strings")
	}
	if !s.rules.SlimClaimsAudience {
		return auds, nil, nil
	}
	kept := auds[:0:0]
	for _, a := range auds {
		decoded, ok, err := parseSlimClaims(a)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			kept = append(kept, a)
			continue
		}
		if extra == nil {
			extra = map[string]any{}
		}
		for k, v := range decoded {
			if _, seen := extra[k]; !seen {
				extra[k] = v
			}
		}
	}
	return kept, extra, nil
}

func anyOf(have, want []string) bool {
	return slices.ContainsFunc(have, func(a string) bool { return slices.Contains(want, a) })
}

// publicKey decodes the bound key: `pubkey`, standard base64 with padding.
func publicKey(claims map[string]any) ([]byte, error) {
	v, ok := claims["pubkey"]
	if !ok {
		return nil, nil
	}
	s, isString := v.(string)
	if !isString {
		return nil, sdk.Reject(sdk.ErrInvalid, "pubkey claim is not a string")
	}
	pub, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(pub) == 0 {
		return nil, sdk.Reject(sdk.ErrInvalid, "pubkey claim is not standard base64 of a key")
	}
	return pub, nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
