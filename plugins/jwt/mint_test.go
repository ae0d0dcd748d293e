package jwt_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/slimid/slimid/sdk"
)

// TestMintEveryAlgorithm mints with each algorithm, verifies with the
// plugin, and verifies again with go-jose, an independent implementation.
func TestMintEveryAlgorithm(t *testing.T) {
	secret := readFile(t, "testdata/hs256_secret.txt")
	tests := []struct {
		alg, private, public string
	}{
		{"ES256", "es256_private.pem", "es256_public.pem"},
		{"ES384", "es384_private.pem", "es384_public.pem"},
		{"EdDSA", "eddsa_private.pem", "eddsa_public.pem"},
		{"RS256", "rsa2048_private.pem", "rsa2048_public.pem"},
		{"RS384", "rsa2048_private.pem", "rsa2048_public.pem"},
		{"RS512", "rsa2048_private.pem", "rsa2048_public.pem"},
		{"PS256", "rsa2048_private.pem", "rsa2048_public.pem"},
		{"PS384", "rsa2048_private.pem", "rsa2048_public.pem"},
		{"PS512", "rsa2048_private.pem", "rsa2048_public.pem"},
		{"HS256", "hs256_secret.txt", "hs256_secret.txt"},
		{"HS384", "hs256_secret.txt", "hs256_secret.txt"},
		{"HS512", "hs256_secret.txt", "hs256_secret.txt"},
	}
	pub, _, _ := ed25519.GenerateKey(nil)
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			p, _ := newPlugin(t)
			configure(t, p, fmt.Sprintf(`
provider:
  claims: {issuer: corp-issuer, audience: [slim], subject: org/ns/alice}
  key: {type: encoding, algorithm: %[1]s, format: pem, key: {file: testdata/%[2]s}}
verifier:
  claims: {issuer: corp-issuer, audience: [slim]}
  key: {type: decoding, algorithm: %[1]s, format: pem, key: {file: testdata/%[3]s}}
`, tt.alg, tt.private, tt.public))
			tok, err := p.FetchToken(context.Background(), sdk.TokenRequest{PublicKey: pub})
			if err != nil {
				t.Fatal(err)
			}
			id, err := p.Verify(context.Background(), sdk.VerifyRequest{Token: tok.Value})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if id.Subject != "org/ns/alice" || !bytes.Equal(id.PublicKey, pub) {
				t.Fatalf("identity = %+v", id)
			}

			var verifyKey any = secret
			if tt.alg[0] != 'H' {
				verifyKey = privateKey(t, tt.private).Public()
			}
			parsed, err := josejwt.ParseSigned(tok.Value, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(tt.alg)})
			if err != nil {
				t.Fatalf("go-jose parse: %v", err)
			}
			var std josejwt.Claims
			if err := parsed.Claims(verifyKey, &std); err != nil {
				t.Fatalf("go-jose verify: %v", err)
			}
			err = std.ValidateWithLeeway(josejwt.Expected{Issuer: "corp-issuer", Subject: "org/ns/alice", AnyAudience: []string{"slim"}, Time: time.Now()}, 0)
			if err != nil {
				t.Fatalf("go-jose validate: %v", err)
			}
		})
	}
}

// TestMintedClaims checks the claims and header SLIM mints, the kid
// override and the TTL hint.
func TestMintedClaims(t *testing.T) {
	const base = `
provider:
  claims: {issuer: corp-issuer, audience: [slim, other], subject: org/ns/alice, custom_claims: {team: a, level: 3}}
  duration: 1h
  key: {type: encoding, format: pem, key: {file: testdata/es256_private.pem}}
`
	pub := []byte("a 32-byte ed25519 public key....")
	tests := []struct {
		name     string
		config   string
		req      sdk.TokenRequest
		kid      string
		aud      []any
		lifetime int64
	}{
		{"defaults", base, sdk.TokenRequest{PublicKey: pub}, "org/ns/alice", []any{"slim", "other"}, 3600},
		{"configured kid", base + "  kid: es256-1\n", sdk.TokenRequest{PublicKey: pub}, "es256-1", []any{"slim", "other"}, 3600},
		{"requested audience", base, sdk.TokenRequest{Audiences: []string{"billing"}}, "org/ns/alice", []any{"billing"}, 3600},
		{"shorter TTL hint", base, sdk.TokenRequest{TTLHint: 10 * time.Minute}, "org/ns/alice", []any{"slim", "other"}, 600},
		{"longer TTL hint", base, sdk.TokenRequest{TTLHint: 5 * time.Hour}, "org/ns/alice", []any{"slim", "other"}, 3600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := newPlugin(t)
			configure(t, p, tt.config)
			tok, err := p.FetchToken(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			h, c := header(t, tok.Value), payload(t, tok.Value)
			if h["alg"] != "ES256" || h["typ"] != "JWT" || h["kid"] != tt.kid {
				t.Fatalf("header = %v", h)
			}
			if c["iss"] != "corp-issuer" || c["sub"] != "org/ns/alice" || c["team"] != "a" || c["level"] != float64(3) {
				t.Fatalf("claims = %v", c)
			}
			if aud, _ := c["aud"].([]any); !slices.Equal(aud, tt.aud) {
				t.Fatalf("aud = %v; want %v", c["aud"], tt.aud)
			}
			iat, nbf, exp := int64(c["iat"].(float64)), int64(c["nbf"].(float64)), int64(c["exp"].(float64))
			if iat != nbf || exp-iat != tt.lifetime {
				t.Fatalf("iat %d, nbf %d, exp %d; want iat = nbf and a %ds lifetime", iat, nbf, exp, tt.lifetime)
			}
			if tok.IssuedAt.Unix() != iat || tok.ExpiresAt.Unix() != exp || tok.Subject != "org/ns/alice" {
				t.Fatalf("token = %+v", tok)
			}
			want := base64.StdEncoding.EncodeToString(tt.req.PublicKey)
			if got, ok := c["pubkey"]; (len(tt.req.PublicKey) > 0) != ok || (ok && got != want) {
				t.Fatalf("pubkey = %v; want %q", got, want)
			}
		})
	}
}

// TestGoJoseTokensVerify checks that tokens minted by go-jose verify in
// the plugin, against a JWKS and against a PEM key.
func TestGoJoseTokensVerify(t *testing.T) {
	tests := []struct {
		name, key, kid string
		alg            jose.SignatureAlgorithm
		config         string
	}{
		{"ES256 by kid from a JWKS", "es256_private.pem", "es256-1", jose.ES256, "format: jwks, key: {file: testdata/members.jwks}"},
		{"EdDSA by kid from a JWKS", "eddsa_private.pem", "eddsa-1", jose.EdDSA, "format: jwks, key: {file: testdata/members.jwks}"},
		{"RS256 from a PEM key", "rsa2048_private.pem", "anything", jose.RS256, "format: pem, key: {file: testdata/rsa2048_public.pem}"},
		{"PS256 pinned on a PEM key", "rsa2048_private.pem", "", jose.PS256, "algorithm: PS256, format: pem, key: {file: testdata/rsa2048_public.pem}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := newPlugin(t)
			configure(t, p, "verifier:\n  claims: {issuer: corp-issuer, audience: [slim]}\n  key: {type: decoding, "+tt.config+"}\n")
			opts := (&jose.SignerOptions{}).WithType("JWT")
			if tt.kid != "" {
				opts = opts.WithHeader("kid", tt.kid)
			}
			signer, err := jose.NewSigner(jose.SigningKey{Algorithm: tt.alg, Key: privateKey(t, tt.key)}, opts)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			token, err := josejwt.Signed(signer).Claims(josejwt.Claims{
				Issuer: "corp-issuer", Subject: "org/ns/bob", Audience: josejwt.Audience{"slim"},
				IssuedAt: josejwt.NewNumericDate(now), NotBefore: josejwt.NewNumericDate(now), Expiry: josejwt.NewNumericDate(now.Add(time.Minute)),
			}).Serialize()
			if err != nil {
				t.Fatal(err)
			}
			id, err := p.Verify(context.Background(), sdk.VerifyRequest{Token: token})
			if err != nil || id.Subject != "org/ns/bob" {
				t.Fatalf("Verify = %+v, %v", id, err)
			}
		})
	}
}

func TestAbsentPart(t *testing.T) {
	ctx := context.Background()
	provider, _ := newPlugin(t)
	configure(t, provider, "provider:\n  claims: {audience: [slim], subject: org/ns/alice}\n  key: {type: encoding, format: pem, key: {file: testdata/es256_private.pem}}\n")
	_, err := provider.Verify(ctx, sdk.VerifyRequest{Token: "x"})
	wantErr(t, err, sdk.ErrUnsupported, "not supported by this plugin: Verify needs a verifier section in the jwt plugin's config")
	err = provider.WatchKeys(ctx, func(sdk.KeySnapshot) error { return nil })
	wantErr(t, err, sdk.ErrUnsupported, "not supported by this plugin: WatchKeys needs a verifier section in the jwt plugin's config")

	verifier, _ := newPlugin(t)
	configure(t, verifier, "verifier:\n  claims: {audience: [slim]}\n  key: {type: decoding, format: pem, key: {file: testdata/es256_public.pem}}\n")
	_, err = verifier.FetchToken(ctx, sdk.TokenRequest{})
	wantErr(t, err, sdk.ErrUnsupported, "not supported by this plugin: FetchToken needs a provider section in the jwt plugin's config")

	unconfigured, _ := newPlugin(t)
	if _, err := unconfigured.Verify(ctx, sdk.VerifyRequest{Token: "x"}); !errors.Is(err, sdk.ErrNotConfigured) {
		t.Fatalf("Verify before Configure = %v", err)
	}
}
