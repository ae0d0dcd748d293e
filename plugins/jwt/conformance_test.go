package jwt_test

import (
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/slimid/slimid/plugins/jwt"
	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/sdktest"
)

const conformanceConfig = `
provider:
  claims: {issuer: corp-issuer, audience: [slim], subject: org/ns/alice, custom_claims: {team: a}}
  duration: 1h
  key: {type: encoding, algorithm: ES256, format: pem, key: {file: testdata/conformance_es256_private.pem}}
verifier:
  claims: {issuer: corp-issuer, audience: [slim]}
  key: {type: decoding, algorithm: ES256, format: pem, key: {file: testdata/conformance_es256_public.pem}}
`

func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the plugin binary; run without -short: go test ./plugins/jwt/...")
	}
	signed := func(hdr map[string]any, claims map[string]any) func(testing.TB) string {
		return func(t testing.TB) string {
			return signConformance(t, hdr, claims)
		}
	}
	now := time.Now().Unix()
	sdktest.Run(t, sdktest.Suite{
		NewPlugin:      func() sdk.Plugin { return jwt.NewWithOptions(jwt.WithRegisterer(prometheus.NewRegistry())) },
		Binary:         "github.com/slimid/slimid/cmd/slimid-plugin-jwt",
		Config:         []byte(conformanceConfig),
		Audiences:      []string{"slim"},
		ChecksAudience: true,
		InvalidConfigs: []sdktest.InvalidConfig{
			{Name: "unknown key", Config: []byte("verifier:\n  claims: {audience: [slim]}\n  bogus: 1\n"), Want: `unknown key "bogus" at verifier`},
			{Name: "empty verifier audience", Config: []byte("verifier:\n  claims: {audience: []}\n  key: {type: decoding, format: pem, key: {file: testdata/es256_public.pem}}\n"), Want: "verifier.claims.audience needs at least one non-empty audience"},
			{Name: "weak RSA key", Config: []byte("verifier:\n  claims: {audience: [slim]}\n  key: {type: decoding, format: pem, key: {file: testdata/rsa1024_weak_public.pem}}\n"), Want: "RSA key has 1024 bits; at least 2048 are required"},
			{Name: "nothing configured", Config: []byte("{}"), Want: "config needs a provider section, a verifier section or both"},
		},
		Rejected: []sdktest.RejectedToken{
			{Name: "expired", Reason: sdk.ErrExpired, Token: signed(nil, map[string]any{"exp": now - 3600, "iat": now - 7200, "nbf": now - 7200})},
			{Name: "not yet valid", Reason: sdk.ErrNotYetValid, Token: signed(nil, map[string]any{"nbf": now + 3600})},
			{Name: "other issuer", Reason: sdk.ErrUntrusted, Token: signed(nil, map[string]any{"iss": "evil"})},
			{Name: "alg none", Reason: sdk.ErrInvalid, Token: func(t testing.TB) string {
				return b64(t, map[string]any{"alg": "none"}) + "." + b64(t, conformanceClaims(nil)) + "."
			}},
			{Name: "embedded jwk", Reason: sdk.ErrInvalid, Token: signed(map[string]any{"jwk": map[string]any{"kty": "oct", "k": "AAAA"}}, nil)},
			{Name: "HMAC with the public key", Reason: sdk.ErrInvalid, Token: func(t testing.TB) string {
				return signWith(t, jwa.HS256, readFile(t, "testdata/conformance_es256_public.pem"), nil, conformanceClaims(nil))
			}},
		},
	})
}

// conformanceClaims are valid claims for the conformance config, edited.
func conformanceClaims(edit map[string]any) map[string]any {
	now := time.Now().Unix()
	c := map[string]any{"iss": "corp-issuer", "sub": "org/ns/alice", "aud": []string{"slim"}, "iat": now, "nbf": now, "exp": now + 600}
	for k, v := range edit {
		c[k] = v
	}
	return c
}

func signConformance(t testing.TB, hdr, edit map[string]any) string {
	return signWith(t, jwa.ES256, privateKey(t, "conformance_es256_private.pem"), hdr, conformanceClaims(edit))
}

// signWith signs a hand-built token, so tests can put anything in it.
func signWith(t testing.TB, alg jwa.SignatureAlgorithm, key any, hdr, claims map[string]any) string {
	t.Helper()
	h := map[string]any{"alg": alg.String(), "typ": "JWT"}
	for k, v := range hdr {
		h[k] = v
	}
	input := b64(t, h) + "." + b64(t, claims)
	signer, err := jws.NewSigner(alg)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.Sign([]byte(input), key)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func b64(t testing.TB, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}
