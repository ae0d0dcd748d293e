package jwt_test

import (
	"context"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/slimid/slimid/sdk"
)

// TestVerifyRejects runs the attacks through the plugin's Verify: what the
// published keys cannot decide is untrusted here.
func TestVerifyRejects(t *testing.T) {
	p, _ := newPlugin(t)
	configure(t, p, `
verifier:
  claims: {issuer: corp-issuer, audience: [slim]}
  leeway: 30s
  subject_patterns: ["org/ns/.*"]
  claim_conditions: {team: [a, b]}
  key: {type: decoding, format: jwks, key: {file: testdata/members.jwks}}
`)
	es := privateKey(t, "es256_private.pem")
	at := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	claims := func(edit map[string]any) map[string]any {
		c := map[string]any{"iss": "corp-issuer", "sub": "org/ns/alice", "aud": []string{"slim"}, "team": "a",
			"iat": at.Unix(), "nbf": at.Unix(), "exp": at.Add(time.Hour).Unix()}
		for k, v := range edit {
			if v == nil {
				delete(c, k)
				continue
			}
			c[k] = v
		}
		return c
	}
	signed := func(hdr, edit map[string]any) string {
		h := map[string]any{"kid": "es256-1"}
		for k, v := range hdr {
			h[k] = v
		}
		return signWith(t, jwa.ES256, es, h, claims(edit))
	}
	tests := []struct {
		name      string
		token     string
		audiences []string
		kind      error
		want      string
	}{
		{"valid", signed(nil, nil), nil, nil, ""},
		{"expired within the configured leeway", signed(nil, map[string]any{"exp": at.Add(-20 * time.Second).Unix()}), nil, nil, ""},
		{"expired beyond the configured leeway", signed(nil, map[string]any{"exp": at.Add(-45 * time.Second).Unix()}), nil, sdk.ErrExpired,
			"token expired at 2026-12-04T11:59:15Z (now 2026-12-04T12:00:00Z, leeway 30s)"},
		{"nbf in the future", signed(nil, map[string]any{"nbf": at.Add(time.Minute).Unix()}), nil, sdk.ErrNotYetValid,
			"token is not valid before 2026-12-04T12:01:00Z (now 2026-12-04T12:00:00Z, leeway 30s)"},
		{"iat in the future", signed(nil, map[string]any{"iat": at.Add(time.Minute).Unix(), "nbf": nil}), nil, sdk.ErrNotYetValid,
			"token was issued in the future, at 2026-12-04T12:01:00Z (now 2026-12-04T12:00:00Z, leeway 30s)"},
		{"missing exp", signed(nil, map[string]any{"exp": nil}), nil, sdk.ErrInvalid, "token has no exp claim"},
		{"wrong issuer", signed(nil, map[string]any{"iss": "evil"}), nil, sdk.ErrUntrusted,
			`no key set trusts issuer "evil" or subject "org/ns/alice"`},
		{"unknown kid", signed(map[string]any{"kid": "k9"}, nil), nil, sdk.ErrUntrusted, `kid "k9" is not among the published keys`},
		{"wrong audience", signed(nil, map[string]any{"aud": "other"}), nil, sdk.ErrAudience, `token audience ["other"] includes none of the expected ["slim"]`},
		{"audience from the request", signed(nil, nil), []string{"billing"}, sdk.ErrAudience, `token audience ["slim"] includes none of the expected ["billing"]`},
		{"alg none", b64(t, map[string]any{"alg": "none"}) + "." + b64(t, claims(nil)) + ".", nil, sdk.ErrInvalid, "alg none is refused: tokens must be signed"},
		{"HMAC with the public key", signWith(t, jwa.HS256, readFile(t, "testdata/es256_public.pem"), map[string]any{"kid": "es256-1"}, claims(nil)), nil,
			sdk.ErrInvalid, `token alg "HS256" does not match the published key algorithm ES256`},
		{"EdDSA key's kid with ES256", signed(map[string]any{"kid": "eddsa-1"}, nil), nil, sdk.ErrInvalid,
			`token alg "ES256" does not match the published key algorithm EdDSA`},
		{"jku", signed(map[string]any{"jku": "https://evil.example/keys"}, nil), nil, sdk.ErrInvalid,
			`header "jku" is refused: keys carried in or referenced by a token are never trusted`},
		{"unknown crit", signed(map[string]any{"crit": []string{"urn:x"}}, nil), nil, sdk.ErrInvalid,
			`crit header ["urn:x"] names extensions this verifier does not understand`},
		{"subject outside the patterns", signed(nil, map[string]any{"sub": "other/ns/alice"}), nil, sdk.ErrPolicy,
			`subject "other/ns/alice" matches none of the subject patterns of key set "corp-issuer"`},
		{"claim condition unmet", signed(nil, map[string]any{"team": "c"}), nil, sdk.ErrPolicy,
			`claim "team" has none of the values ["a" "b"] that key set "corp-issuer" requires`},
		{"bad pubkey", signed(nil, map[string]any{"pubkey": "!!"}), nil, sdk.ErrInvalid, "pubkey claim is not standard base64 of a key"},
		{"not a token", "hello", nil, sdk.ErrUntrusted, "not a JWS compact token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := p.Verify(context.Background(), sdk.VerifyRequest{Token: tt.token, Audiences: tt.audiences, At: at})
			if tt.want == "" {
				if err != nil || id.Subject != "org/ns/alice" {
					t.Fatalf("Verify = %+v, %v", id, err)
				}
				return
			}
			wantErr(t, err, tt.kind, tt.want)
		})
	}
}
