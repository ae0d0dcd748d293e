package jwt_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/slimid/slimid/plugins/jwt"
	"github.com/slimid/slimid/sdk"
)

func TestConfigRefused(t *testing.T) {
	const verifierHead = "verifier:\n  claims: {audience: [slim]}\n"
	const providerHead = "provider:\n  claims: {audience: [slim], subject: org/ns/alice}\n"
	tests := []struct {
		name    string
		config  string
		wantErr string
	}{
		{"nothing configured", "{}", "config needs a provider section, a verifier section or both"},
		{"not YAML", "verifier: [", "config is not valid YAML: [1:11] sequence end token ']' not found"},
		{"unknown key", verifierHead + "  bogus: 1\n", `unknown key "bogus" at verifier (line 3)`},
		{"unknown nested key", "verifier:\n  claims: {audience: [slim], issuers: [x]}\n", `unknown key "issuers" at verifier.claims (line 2)`},
		{"duration not a duration", providerHead + "  duration: 5\n", `provider.duration: cannot use "5" as a duration (like 90s or 1h) (line 3)`},
		{"no verifier audience", "verifier:\n  key: {type: decoding, format: pem, key: {file: testdata/es256_public.pem}}\n",
			"verifier.claims.audience needs at least one non-empty audience: tokens for any audience would be accepted otherwise"},
		{"empty verifier audience entry", "verifier:\n  claims: {audience: [slim, \"\"]}\n  key: {type: decoding, format: pem, key: {file: testdata/es256_public.pem}}\n",
			"verifier.claims.audience needs at least one non-empty audience: tokens for any audience would be accepted otherwise"},
		{"leeway too long", verifierHead + "  leeway: 10m\n  key: {type: decoding, format: pem, key: {file: testdata/es256_public.pem}}\n",
			"verifier.leeway 10m0s is out of range (0 to 5m0s)"},
		{"verifier key of type encoding", verifierHead + "  key: {type: encoding, format: pem, key: {file: testdata/es256_public.pem}}\n",
			`verifier.key.type is "encoding"; use decoding (static keys) or autoresolve (issuer discovery)`},
		{"unknown format", verifierHead + "  key: {type: decoding, format: der, key: {file: testdata/es256_public.pem}}\n",
			`verifier.key.format "der" is not pem, jwk or jwks`},
		{"unknown algorithm", verifierHead + "  key: {type: decoding, algorithm: ES999, format: pem, key: {file: testdata/es256_public.pem}}\n",
			`verifier.key.algorithm "ES999" is not one of ES256, ES384, EdDSA, RS256, RS384, RS512, PS256, PS384, PS512, HS256, HS384, HS512`},
		{"file and data", verifierHead + "  key: {type: decoding, format: pem, key: {file: a.pem, data: x}}\n",
			"verifier.key.key has both file and data; keep one"},
		{"no key material", verifierHead + "  key: {type: decoding, format: pem}\n", "verifier.key.key needs file or data"},
		{"missing file", verifierHead + "  key: {type: decoding, format: pem, key: {file: testdata/missing.pem}}\n",
			"verifier.key.key.file: open testdata/missing.pem: no such file or directory"},
		{"not PEM", verifierHead + "  key: {type: decoding, format: pem, key: {data: hello}}\n",
			"verifier.key is not a PEM key (for an HMAC secret set algorithm to HS256, HS384 or HS512)"},
		{"not a JWKS", verifierHead + "  key: {type: decoding, format: jwks, key: {file: testdata/es256_public.pem}}\n",
			"verifier.key is not a JWKS (a JSON object with keys)"},
		{"algorithm of another key type", verifierHead + "  key: {type: decoding, algorithm: RS256, format: pem, key: {file: testdata/es256_public.pem}}\n",
			`verifier.key: key 0 (kid ""): alg RS256 needs a RSA key, not EC`},
		{"algorithm of another curve", verifierHead + "  key: {type: decoding, algorithm: ES384, format: pem, key: {file: testdata/es256_public.pem}}\n",
			`verifier.key: key 0 (kid ""): alg ES384 does not fit this key's curve (its algorithm is ES256)`},
		{"weak RSA key", verifierHead + "  key: {type: decoding, format: pem, key: {file: testdata/rsa1024_weak_public.pem}}\n",
			`verifier.key: key 0 (kid ""): RSA key has 1024 bits; at least 2048 are required`},
		{"short HMAC secret", verifierHead + "  key: {type: decoding, algorithm: HS256, format: pem, key: {data: short}}\n",
			`verifier.key: key 0 (kid ""): oct secret is 5 bytes; HS256 needs at least 32`},
		{"bad subject pattern", verifierHead + "  subject_patterns: [\"org/(\"]\n  key: {type: decoding, format: pem, key: {file: testdata/es256_public.pem}}\n",
			"verifier: jwtverify: key set \"static\": subject pattern \"org/(\": error parsing regexp: missing closing ): `^(?:org/()$`"},
		{"autoresolve without issuers", verifierHead + "  key: {type: autoresolve}\n",
			"verifier.key: autoresolve needs issuers (or verifier.claims.issuer): only allowed issuers are resolved"},
		{"autoresolve over plain http", verifierHead + "  key: {type: autoresolve, issuers: [\"http://idp.example.com\"]}\n",
			`verifier.key.issuers: "http://idp.example.com" must use https (plain http only on a loopback address)`},
		{"autoresolve issuer with a query", verifierHead + "  key: {type: autoresolve, issuers: [\"https://idp.example.com?x=1\"]}\n",
			`verifier.key.issuers: "https://idp.example.com?x=1" is not an issuer URL like https://idp.example.com`},
		{"autoresolve with a key", verifierHead + "  key: {type: autoresolve, issuers: [\"https://idp.example.com\"], format: jwks}\n",
			"verifier.key: an autoresolve key takes issuers, not format or key"},
		{"autoresolve with HMAC", verifierHead + "  key: {type: autoresolve, algorithm: HS256, issuers: [\"https://idp.example.com\"]}\n",
			`verifier.key.algorithm "HS256" is not an asymmetric signature algorithm`},
		{"issuers on a static key", verifierHead + "  key: {type: decoding, format: pem, issuers: [x], key: {file: testdata/es256_public.pem}}\n",
			"verifier.key: issuers and refresh_cooldown belong to an autoresolve key only"},
		{"cooldown too long", verifierHead + "  key: {type: autoresolve, issuers: [\"https://idp.example.com\"], refresh_cooldown: 2h}\n",
			"verifier.key.refresh_cooldown 2h0m0s is out of range (0 to 1h0m0s)"},
		{"no subject", "provider:\n  claims: {audience: [slim]}\n  key: {type: encoding, format: pem, key: {file: testdata/es256_private.pem}}\n",
			"provider.claims.subject is required: it names the workload"},
		{"no provider audience", "provider:\n  claims: {subject: org/ns/alice}\n  key: {type: encoding, format: pem, key: {file: testdata/es256_private.pem}}\n",
			"provider.claims.audience needs at least one non-empty audience"},
		{"reserved custom claim", "provider:\n  claims: {audience: [slim], subject: org/ns/alice, custom_claims: {sub: admin}}\n  key: {type: encoding, format: pem, key: {file: testdata/es256_private.pem}}\n",
			`provider.claims.custom_claims sets "sub", which the provider sets itself; remove it`},
		{"duration too short", providerHead + "  duration: 500ms\n  key: {type: encoding, format: pem, key: {file: testdata/es256_private.pem}}\n",
			"provider.duration 500ms is out of range (1s to 720h0m0s)"},
		{"provider key of type decoding", providerHead + "  key: {type: decoding, format: pem, key: {file: testdata/es256_private.pem}}\n",
			`provider.key.type is "decoding"; a provider signs with type encoding`},
		{"provider key is public", providerHead + "  key: {type: encoding, format: pem, key: {file: testdata/es256_public.pem}}\n",
			"provider.key holds a public key; signing needs the private key"},
		{"provider JWKS without kid", providerHead + "  key: {type: encoding, format: jwks, key: {file: testdata/members.jwks}}\n",
			"provider.key holds 2 keys; set kid to choose one"},
		{"provider algorithm of another curve", providerHead + "  key: {type: encoding, algorithm: ES384, format: pem, key: {file: testdata/es256_private.pem}}\n",
			`provider.key: key 0 (kid ""): alg ES384 does not fit this key's curve (its algorithm is ES256)`},
		{"provider weak RSA key", providerHead + "  key: {type: encoding, format: pem, key: {file: testdata/rsa1024_weak_private.pem}}\n",
			`provider.key: key 0 (kid ""): RSA key has 1024 bits; at least 2048 are required`},
		{"provider short HMAC secret", providerHead + "  key: {type: encoding, algorithm: HS384, format: pem, key: {data: sixteen-bytes-ok}}\n",
			`provider.key: key 0 (kid ""): oct secret is 16 bytes; HS384 needs at least 48`},
	}
	p, _ := newPlugin(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.ValidateConfig(context.Background(), []byte(tt.config))
			wantErr(t, err, sdk.ErrInvalidConfig, tt.wantErr)
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans several lines: %q", err)
			}
		})
	}
}

// TestConfigureKeepsRunningConfig checks that a refused configuration
// changes nothing, and that ValidateConfig never applies one.
func TestConfigureKeepsRunningConfig(t *testing.T) {
	p, _ := newPlugin(t)
	ctx := context.Background()
	if _, err := p.ValidateConfig(ctx, []byte(conformanceConfig)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.FetchToken(ctx, sdk.TokenRequest{}); !errors.Is(err, sdk.ErrNotConfigured) {
		t.Fatalf("FetchToken after ValidateConfig = %v; want not configured", err)
	}
	configure(t, p, conformanceConfig)
	if _, err := p.Configure(ctx, []byte("provider: {claims: {subject: x}}")); err == nil {
		t.Fatal("Configure accepted a bad config")
	}
	tok, err := p.FetchToken(ctx, sdk.TokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Verify(ctx, sdk.VerifyRequest{Token: tok.Value}); err != nil {
		t.Fatalf("Verify after a refused reconfiguration: %v", err)
	}
}

func TestVerifierNotes(t *testing.T) {
	p, _ := newPlugin(t)
	notes, err := p.ValidateConfig(context.Background(), []byte("verifier:\n  claims: {audience: [slim]}\n  key: {type: decoding, format: pem, key: {file: testdata/es256_private.pem}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || notes[0] != "verifier.key: key 0 is a private key; only its public part is used" {
		t.Fatalf("notes = %q", notes)
	}
}

// FuzzValidateConfig feeds arbitrary documents to ValidateConfig: it must
// never panic, and every refusal is a one-line configuration error.
func FuzzValidateConfig(f *testing.F) {
	f.Add([]byte(conformanceConfig))
	p, _ := newPlugin(f)
	f.Fuzz(func(t *testing.T, config []byte) {
		_, err := p.ValidateConfig(context.Background(), config)
		if err == nil {
			return
		}
		if !errors.Is(err, sdk.ErrInvalidConfig) {
			t.Fatalf("error is not a configuration error: %v", err)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Fatalf("error spans several lines: %q", err)
		}
	})
}

// A pinned algorithm selects the JWKS keys that fit it, with a note for each
// skipped one; a JWKS with no fitting key is refused.
func TestPinnedAlgorithmSelectsJWKSKeys(t *testing.T) {
	verifier := func(alg string) []byte {
		return []byte("verifier:\n  claims: {audience: [slim]}\n  key: {type: decoding, algorithm: " + alg + ", format: jwks, key: {file: testdata/members.jwks}}\n")
	}
	notes, err := jwt.New().ValidateConfig(context.Background(), verifier("ES256"))
	if err != nil {
		t.Fatal(err)
	}
	want := `verifier.key: key 1 (kid "eddsa-1"): alg ES256 needs a EC key, not OKP; skipped`
	if len(notes) != 1 || notes[0] != want {
		t.Fatalf("notes = %q; want [%q]", notes, want)
	}
	_, err = jwt.New().ValidateConfig(context.Background(), verifier("RS256"))
	if err == nil || err.Error() != "verifier.key: no key fits algorithm RS256" {
		t.Fatalf("no fitting key = %v", err)
	}
}
