package jwtverify_test

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/jwtverify"
)

// corpRules are the rules of the key set most cases use.
func corpRules() sdk.ClaimRules {
	return sdk.ClaimRules{Issuers: []string{"corp-issuer"}, Audiences: []string{"slim"}, Leeway: time.Minute}
}

func TestVerify(t *testing.T) {
	es := newKey(t, jwa.ES256, "k1")
	other := newKey(t, jwa.ES256, "k1") // same kid, key not published
	pubDER, err := x509.MarshalPKIXPublicKey(es.pub)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := fmt.Sprintf("-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----\n", base64.StdEncoding.EncodeToString(pubDER))
	slimClaims, err := jwtverify.SlimClaimsAudience(map[string]any{"pubkey": base64.StdEncoding.EncodeToString([]byte("spire-bound-key")), "team": "a"})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(hdr, edit map[string]any) func(t testing.TB) string {
		return func(t testing.TB) string { return mint(t, es, jwa.ES256, hdr, claims(edit)) }
	}
	spiffe := func(r *sdk.ClaimRules) { r.SPIFFETrustDomain = "example.org" }

	tests := []struct {
		name      string
		rules     func(*sdk.ClaimRules)
		token     func(t testing.TB) string
		audiences []string
		wantKind  error
		wantErr   string
		check     func(t *testing.T, id sdk.Identity)
	}{
		{
			name:  "valid token",
			token: sign(nil, nil),
			check: func(t *testing.T, id sdk.Identity) {
				if id.Subject != "org/ns/alice" || id.Issuer != "corp-issuer" || !slices.Equal(id.Audiences, []string{"slim"}) {
					t.Fatalf("identity = %+v", id)
				}
				if !id.ExpiresAt.Equal(now.Add(time.Hour)) || !id.IssuedAt.Equal(now.Add(-10*time.Second)) {
					t.Fatalf("times = %v, %v", id.IssuedAt, id.ExpiresAt)
				}
				if string(id.PublicKey) != string(make([]byte, 32)) || id.Claims["sub"] != "org/ns/alice" {
					t.Fatalf("key %x, claims %v", id.PublicKey, id.Claims)
				}
			},
		},
		{
			name:      "audience given by the request",
			token:     sign(nil, map[string]any{"aud": "other"}),
			audiences: []string{"x", "other"},
		},
		{
			name:  "expired within the leeway",
			token: sign(nil, map[string]any{"exp": now.Add(-30 * time.Second).Unix()}),
		},
		{
			name:  "subject from the id claim",
			token: sign(nil, map[string]any{"sub": nil, "id": "org/ns/bob"}),
			check: func(t *testing.T, id sdk.Identity) {
				if id.Subject != "org/ns/bob" {
					t.Fatalf("subject = %q", id.Subject)
				}
			},
		},
		{
			name: "alg none",
			token: func(t testing.TB) string {
				return b64json(t, map[string]any{"alg": "none"}) + "." + b64json(t, claims(nil)) + "."
			},
			wantKind: sdk.ErrInvalid,
			wantErr:  "alg none is refused: tokens must be signed",
		},
		{
			name:     "alg None with a signature",
			token:    sign(map[string]any{"alg": "None"}, nil),
			wantKind: sdk.ErrInvalid,
			wantErr:  "alg none is refused: tokens must be signed",
		},
		{
			name: "HMAC signed with the public key's bytes",
			token: func(t testing.TB) string {
				return mintHMAC(t, []byte(pubPEM), map[string]any{"kid": "k1"}, claims(nil))
			},
			wantKind: sdk.ErrInvalid,
			wantErr:  `token alg "HS256" does not match the published key algorithm ES256`,
		},
		{
			name:     "HMAC with the public key's DER and no kid",
			token:    func(t testing.TB) string { return mintHMAC(t, pubDER, nil, claims(nil)) },
			wantKind: sdk.ErrInvalid,
			wantErr:  `token alg "HS256" does not match the published key algorithm ES256`,
		},
		{
			name:     "algorithm of another key type",
			token:    sign(map[string]any{"alg": "RS256"}, nil),
			wantKind: sdk.ErrInvalid,
			wantErr:  `token alg "RS256" does not match the published key algorithm ES256`,
		},
		{
			name:     "embedded jwk",
			token:    sign(map[string]any{"jwk": es.jwk(t, true)}, nil),
			wantKind: sdk.ErrInvalid,
			wantErr:  `header "jwk" is refused: keys carried in or referenced by a token are never trusted`,
		},
		{
			name:     "jku",
			token:    sign(map[string]any{"jku": "https://evil.example/jwks.json"}, nil),
			wantKind: sdk.ErrInvalid,
			wantErr:  `header "jku" is refused: keys carried in or referenced by a token are never trusted`,
		},
		{
			name:     "x5u",
			token:    sign(map[string]any{"x5u": "https://evil.example/cert.pem"}, nil),
			wantKind: sdk.ErrInvalid,
			wantErr:  `header "x5u" is refused: keys carried in or referenced by a token are never trusted`,
		},
		{
			name:     "x5c",
			token:    sign(map[string]any{"x5c": []string{base64.StdEncoding.EncodeToString(pubDER)}}, nil),
			wantKind: sdk.ErrInvalid,
			wantErr:  `header "x5c" is refused: keys carried in or referenced by a token are never trusted`,
		},
		{
			name:     "unknown crit",
			token:    sign(map[string]any{"crit": []string{"exp"}, "exp": 1}, nil),
			wantKind: sdk.ErrInvalid,
			wantErr:  `crit header ["exp"] names extensions this verifier does not understand`,
		},
		{
			name:     "unencoded payload",
			token:    sign(map[string]any{"b64": false}, nil),
			wantKind: sdk.ErrInvalid,
			wantErr:  `header "b64" is refused: unencoded payloads are not supported`,
		},
		{
			name:     "oversized",
			token:    sign(nil, map[string]any{"pad": strings.Repeat("x", 16<<10)}),
			wantKind: sdk.ErrInvalid,
			wantErr:  "token is 22215 bytes, more than the 16384 allowed",
		},
		{
			name:     "over the key set's own cap",
			rules:    func(r *sdk.ClaimRules) { r.MaxTokenBytes = 100 },
			token:    sign(nil, nil),
			wantKind: sdk.ErrInvalid,
			wantErr:  "token is 358 bytes, more than the 100 allowed",
		},
		{
			name:     "missing exp",
			token:    sign(nil, map[string]any{"exp": nil}),
			wantKind: sdk.ErrInvalid,
			wantErr:  "token has no exp claim",
		},
		{
			name:     "exp not a number",
			token:    sign(nil, map[string]any{"exp": "tomorrow"}),
			wantKind: sdk.ErrInvalid,
			wantErr:  "exp claim is not a number",
		},
		{
			name:     "exp out of range",
			token:    sign(nil, map[string]any{"exp": 1e300}),
			wantKind: sdk.ErrInvalid,
			wantErr:  "exp claim 1e+300 is out of range",
		},
		{
			name:     "expired",
			token:    sign(nil, map[string]any{"exp": now.Add(-2 * time.Minute).Unix()}),
			wantKind: sdk.ErrExpired,
			wantErr:  "token expired at 2026-12-04T11:58:00Z (now 2026-12-04T12:00:00Z, leeway 1m0s)",
		},
		{
			name:     "nbf in the future",
			token:    sign(nil, map[string]any{"nbf": now.Add(5 * time.Minute).Unix()}),
			wantKind: sdk.ErrNotYetValid,
			wantErr:  "token is not valid before 2026-12-04T12:05:00Z (now 2026-12-04T12:00:00Z, leeway 1m0s)",
		},
		{
			name:     "iat in the future",
			token:    sign(nil, map[string]any{"iat": now.Add(5 * time.Minute).Unix(), "nbf": nil}),
			wantKind: sdk.ErrNotYetValid,
			wantErr:  "token was issued in the future, at 2026-12-04T12:05:00Z (now 2026-12-04T12:00:00Z, leeway 1m0s)",
		},
		{
			name:     "wrong iss",
			token:    sign(nil, map[string]any{"iss": "evil"}),
			wantKind: jwtverify.ErrUndecided,
			wantErr:  `jwtverify: cannot decide with the published keys: no key set trusts issuer "evil" or subject "org/ns/alice"`,
		},
		{
			name:     "wrong iss for a trust domain key set",
			rules:    spiffe,
			token:    sign(nil, map[string]any{"iss": "evil", "sub": "spiffe://example.org/alice"}),
			wantKind: sdk.ErrUntrusted,
			wantErr:  `issuer "evil" is not trusted by key set "corp"`,
		},
		{
			name:     "wrong aud",
			token:    sign(nil, map[string]any{"aud": []string{"other", "more"}}),
			wantKind: sdk.ErrAudience,
			wantErr:  `token audience ["other" "more"] includes none of the expected ["slim"]`,
		},
		{
			name:     "no aud",
			token:    sign(nil, map[string]any{"aud": nil}),
			wantKind: sdk.ErrAudience,
			wantErr:  `token has no audience; expected one of ["slim"]`,
		},
		{
			name:      "wrong aud for the request",
			token:     sign(nil, nil),
			audiences: []string{"billing"},
			wantKind:  sdk.ErrAudience,
			wantErr:   `token audience ["slim"] includes none of the expected ["billing"]`,
		},
		{
			name:     "empty expected audience",
			rules:    func(r *sdk.ClaimRules) { r.Audiences = nil },
			token:    sign(nil, nil),
			wantKind: sdk.ErrInvalidConfig,
			wantErr:  `no expected audience: the request names none and key set "corp" has none configured`,
		},
		{
			name:     "unknown kid",
			token:    sign(map[string]any{"kid": "k9"}, nil),
			wantKind: jwtverify.ErrUndecided,
			wantErr:  `jwtverify: cannot decide with the published keys: kid "k9" is not among the published keys`,
		},
		{
			name:     "signed by another key with the same kid",
			token:    func(t testing.TB) string { return mint(t, other, jwa.ES256, nil, claims(nil)) },
			wantKind: sdk.ErrInvalid,
			wantErr:  `signature does not verify with key "k1"`,
		},
		{
			name:     "no kid when the key set requires one",
			rules:    func(r *sdk.ClaimRules) { r.RequireKID = true },
			token:    sign(map[string]any{"kid": nil}, nil),
			wantKind: sdk.ErrInvalid,
			wantErr:  `token has no kid; key set "corp" requires one`,
		},
		{
			name:  "no kid tries the keys",
			token: sign(map[string]any{"kid": nil}, nil),
		},
		{
			name:     "bad pubkey base64",
			token:    sign(nil, map[string]any{"pubkey": "not*base64"}),
			wantKind: sdk.ErrInvalid,
			wantErr:  "pubkey claim is not standard base64 of a key",
		},
		{
			name:     "pubkey in base64url",
			token:    sign(nil, map[string]any{"pubkey": "_-8"}),
			wantKind: sdk.ErrInvalid,
			wantErr:  "pubkey claim is not standard base64 of a key",
		},
		{
			name:  "SPIFFE subject in the trust domain",
			rules: func(r *sdk.ClaimRules) { r.Issuers = nil; r.SPIFFETrustDomain = "example.org" },
			token: sign(nil, map[string]any{"iss": nil, "sub": "spiffe://example.org/alice"}),
			check: func(t *testing.T, id sdk.Identity) {
				if id.Issuer != "spiffe://example.org" {
					t.Fatalf("issuer = %q", id.Issuer)
				}
			},
		},
		{
			name:     "SPIFFE trust domain mismatch",
			rules:    func(r *sdk.ClaimRules) { r.Issuers = nil; r.SPIFFETrustDomain = "example.org" },
			token:    sign(nil, map[string]any{"iss": nil, "sub": "spiffe://evil.org/alice"}),
			wantKind: jwtverify.ErrUndecided,
			wantErr:  `jwtverify: cannot decide with the published keys: no key set trusts issuer "" or subject "spiffe://evil.org/alice"`,
		},
		{
			name:     "SPIFFE trust domain mismatch under a trusted issuer",
			rules:    spiffe,
			token:    sign(nil, map[string]any{"sub": "spiffe://evil.org/alice"}),
			wantKind: sdk.ErrUntrusted,
			wantErr:  `subject "spiffe://evil.org/alice" is not a SPIFFE ID in trust domain "example.org"`,
		},
		{
			name:  "subject pattern matched",
			rules: func(r *sdk.ClaimRules) { r.SubjectPatterns = []string{"org/ns/[a-z]+"} },
			token: sign(nil, nil),
		},
		{
			name:     "subject pattern matched only in part",
			rules:    func(r *sdk.ClaimRules) { r.SubjectPatterns = []string{"org/ns/a", "other/.*"} },
			token:    sign(nil, nil),
			wantKind: sdk.ErrPolicy,
			wantErr:  `subject "org/ns/alice" matches none of the subject patterns of key set "corp"`,
		},
		{
			name: "required claims present",
			rules: func(r *sdk.ClaimRules) {
				r.RequiredClaims = []sdk.ClaimCondition{{Claim: "team", AnyOf: []string{"a", "b"}}, {Claim: "level", AnyOf: []string{"3"}}, {Claim: "groups", AnyOf: []string{"ops"}}}
			},
			token: sign(nil, map[string]any{"team": "b", "level": 3, "groups": []string{"dev", "ops"}}),
		},
		{
			name: "required claim missing",
			rules: func(r *sdk.ClaimRules) {
				r.RequiredClaims = []sdk.ClaimCondition{{Claim: "team", AnyOf: []string{"a"}}}
			},
			token:    sign(nil, nil),
			wantKind: sdk.ErrPolicy,
			wantErr:  `claim "team" is missing; key set "corp" requires one of ["a"]`,
		},
		{
			name: "required claim with another value",
			rules: func(r *sdk.ClaimRules) {
				r.RequiredClaims = []sdk.ClaimCondition{{Claim: "team", AnyOf: []string{"a"}}}
			},
			token:    sign(nil, map[string]any{"team": map[string]any{"name": "a"}}),
			wantKind: sdk.ErrPolicy,
			wantErr:  `claim "team" has none of the values ["a"] that key set "corp" requires`,
		},
		{
			name:  "slim-claims audience stripped",
			rules: func(r *sdk.ClaimRules) { r.SlimClaimsAudience = true },
			token: sign(nil, map[string]any{"pubkey": nil, "team": "payload wins", "aud": []string{"slim", slimClaims}}),
			check: func(t *testing.T, id sdk.Identity) {
				if !slices.Equal(id.Audiences, []string{"slim"}) {
					t.Fatalf("audiences = %q", id.Audiences)
				}
				if string(id.PublicKey) != "spire-bound-key" {
					t.Fatalf("public key = %q", id.PublicKey)
				}
				if id.Claims["team"] != "payload wins" || id.Claims["pubkey"] == nil {
					t.Fatalf("claims = %v", id.Claims)
				}
			},
		},
		{
			name:  "slim-claims audience kept when not enabled",
			token: sign(nil, map[string]any{"aud": []string{"slim", slimClaims}}),
			check: func(t *testing.T, id sdk.Identity) {
				if len(id.Audiences) != 2 {
					t.Fatalf("audiences = %q", id.Audiences)
				}
			},
		},
		{
			name:     "slim-claims audience malformed",
			rules:    func(r *sdk.ClaimRules) { r.SlimClaimsAudience = true },
			token:    sign(nil, map[string]any{"aud": []string{"slim", "slim-claims:!!"}}),
			wantKind: sdk.ErrInvalid,
			wantErr:  "slim-claims audience is not standard base64",
		},
		{
			name:     "slim-claims audience alone is no audience",
			rules:    func(r *sdk.ClaimRules) { r.SlimClaimsAudience = true },
			token:    sign(nil, map[string]any{"aud": []string{slimClaims}}),
			wantKind: sdk.ErrAudience,
			wantErr:  `token has no audience; expected one of ["slim"]`,
		},
		{
			name: "tampered payload",
			token: func(t testing.TB) string {
				parts := strings.Split(mint(t, es, jwa.ES256, nil, claims(nil)), ".")
				parts[1] = b64json(t, claims(map[string]any{"sub": "org/ns/admin"}))
				return strings.Join(parts, ".")
			},
			wantKind: sdk.ErrInvalid,
			wantErr:  `signature does not verify with key "k1"`,
		},
		{
			name: "signature with non-zero padding bits",
			token: func(t testing.TB) string {
				tok := mint(t, es, jwa.ES256, nil, claims(nil))
				const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
				last := strings.IndexByte(alphabet, tok[len(tok)-1])
				return tok[:len(tok)-1] + string(alphabet[last|1])
			},
			wantKind: sdk.ErrInvalid,
			wantErr:  "token signature is not base64url: illegal base64 data at input byte 84",
		},
		{
			name:     "not a JWS",
			token:    func(testing.TB) string { return "org/ns/alice:1700000000:nonce:claims:mac" },
			wantKind: jwtverify.ErrUndecided,
			wantErr:  "jwtverify: cannot decide with the published keys: not a JWS compact token",
		},
		{
			name:     "JWE-shaped",
			token:    func(testing.TB) string { return "a.b.c.d.e" },
			wantKind: jwtverify.ErrUndecided,
			wantErr:  "jwtverify: cannot decide with the published keys: not a JWS compact token",
		},
		{
			name:     "header not JSON",
			token:    func(testing.TB) string { return "bm90IGpzb24.e30.c2ln" },
			wantKind: sdk.ErrInvalid,
			wantErr:  "token header is not a JSON object",
		},
		{
			name:     "padded base64",
			token:    func(t testing.TB) string { return b64json(t, map[string]any{"alg": "ES256"}) + "==.e30.c2ln" },
			wantKind: sdk.ErrInvalid,
			wantErr:  "token header is not base64url: illegal base64 data at input byte 20",
		},
		{
			name:     "kid not a string",
			token:    sign(map[string]any{"kid": 7}, nil),
			wantKind: sdk.ErrInvalid,
			wantErr:  `token header "kid" is not a string`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules := corpRules()
			if tt.rules != nil {
				tt.rules(&rules)
			}
			v, err := jwtverify.New(sdk.KeySnapshot{Generation: 3, KeySets: []sdk.KeySet{{Name: "corp", JWKS: jwks(t, es.jwk(t, true)), Rules: rules}}})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			id, err := v.Verify(tt.token(t), tt.audiences, now)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if tt.check != nil {
					tt.check(t, id)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify accepted the token: %+v", id)
			}
			if !errors.Is(err, tt.wantKind) || err.Error() != tt.wantErr {
				t.Fatalf("Verify error = %q (%v)\nwant %q (%v)", err, errorKind(err), tt.wantErr, tt.wantKind)
			}
		})
	}
}

func errorKind(err error) string {
	for _, k := range []error{sdk.ErrInvalid, sdk.ErrExpired, sdk.ErrNotYetValid, sdk.ErrAudience, sdk.ErrUntrusted, sdk.ErrPolicy, sdk.ErrInvalidConfig, jwtverify.ErrUndecided} {
		if errors.Is(err, k) {
			return k.Error()
		}
	}
	return "unclassified"
}
