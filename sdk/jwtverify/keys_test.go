package jwtverify_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/jwtverify"
)

func TestNewRefuses(t *testing.T) {
	es := newKey(t, jwa.ES256, "k1")
	with := func(edit map[string]any) []byte {
		k := es.jwk(t, false)
		for name, v := range edit {
			k[name] = v
		}
		return jwks(t, k)
	}
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weakJWK, _ := jwk.FromRaw(&weak.PublicKey)
	privJWK, _ := jwk.FromRaw(es.priv)
	asMap := func(k jwk.Key) map[string]any {
		raw, _ := json.Marshal(k)
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		return m
	}
	short := map[string]any{"kty": "oct", "k": "c2hvcnQgc2VjcmV0", "kid": "h"}
	x25519 := map[string]any{"kty": "OKP", "crv": "X25519", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}

	tests := []struct {
		name    string
		set     sdk.KeySet
		wantErr string
	}{
		{"JWKS not JSON", sdk.KeySet{Name: "corp", JWKS: []byte("{keys")},
			`jwtverify: key set "corp": JWKS does not parse: failed to unmarshal JWK set: invalid character 'k' looking for beginning of object key string`},
		{"key alg of another key type", sdk.KeySet{Name: "corp", JWKS: with(map[string]any{"alg": "RS256"})},
			`jwtverify: key set "corp": key 0 (kid "k1"): alg RS256 needs a RSA key, not EC`},
		{"key alg of another curve", sdk.KeySet{Name: "corp", JWKS: with(map[string]any{"alg": "ES384"})},
			`jwtverify: key set "corp": key 0 (kid "k1"): alg ES384 does not fit this key's curve (its algorithm is ES256)`},
		{"key alg none", sdk.KeySet{Name: "corp", JWKS: with(map[string]any{"alg": "none"})},
			`jwtverify: key set "corp": key 0 (kid "k1"): alg "none" is not a signing algorithm`},
		{"key alg for encryption", sdk.KeySet{Name: "corp", JWKS: with(map[string]any{"alg": "ECDH-ES"})},
			`jwtverify: key set "corp": key 0 (kid "k1"): alg "ECDH-ES" is not a supported signature algorithm`},
		{"private key", sdk.KeySet{Name: "corp", JWKS: jwks(t, asMap(privJWK))},
			`jwtverify: key set "corp": key 0 (kid ""): holds a private key; publish public keys only`},
		{"weak RSA key", sdk.KeySet{Name: "corp", JWKS: jwks(t, asMap(weakJWK))},
			`jwtverify: key set "corp": key 0 (kid ""): RSA key has 1024 bits; at least 2048 are required`},
		{"short HMAC secret", sdk.KeySet{Name: "corp", JWKS: jwks(t, short)},
			`jwtverify: key set "corp": key 0 (kid "h"): oct secret is 12 bytes; HS256 needs at least 32`},
		{"X25519 key", sdk.KeySet{Name: "corp", JWKS: jwks(t, x25519)},
			`jwtverify: key set "corp": key 0 (kid ""): key type OKP (x25519.PublicKey) is not supported for signatures`},
		{"kid required", sdk.KeySet{Name: "td", JWKS: with(map[string]any{"kid": nil}), Rules: sdk.ClaimRules{RequireKID: true}},
			`jwtverify: key set "td": key 0 has no kid, and the set requires one`},
		{"no name", sdk.KeySet{JWKS: jwks(t)}, "jwtverify: a key set has no name"},
		{"bad trust domain", sdk.KeySet{Name: "td", JWKS: jwks(t), Rules: sdk.ClaimRules{SPIFFETrustDomain: "Example.org"}},
			`jwtverify: key set "td": trust domain "Example.org": trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores`},
		{"bad subject pattern", sdk.KeySet{Name: "corp", JWKS: jwks(t), Rules: sdk.ClaimRules{SubjectPatterns: []string{"org/("}}},
			"jwtverify: key set \"corp\": subject pattern \"org/(\": error parsing regexp: missing closing ): `^(?:org/()$`"},
		{"negative leeway", sdk.KeySet{Name: "corp", JWKS: jwks(t), Rules: sdk.ClaimRules{Leeway: -time.Second}},
			`jwtverify: key set "corp": leeway -1s is out of range (0 to 1h)`},
		{"required claim without values", sdk.KeySet{Name: "corp", JWKS: jwks(t), Rules: sdk.ClaimRules{RequiredClaims: []sdk.ClaimCondition{{Claim: "team"}}}},
			`jwtverify: key set "corp": required claim "team" needs a name and at least one value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := jwtverify.New(sdk.KeySnapshot{KeySets: []sdk.KeySet{tt.set}})
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("New error = %v\nwant %s", err, tt.wantErr)
			}
		})
	}

	t.Run("key set named twice", func(t *testing.T) {
		set := sdk.KeySet{Name: "corp", JWKS: jwks(t)}
		_, err := jwtverify.New(sdk.KeySnapshot{KeySets: []sdk.KeySet{set, set}})
		if want := `jwtverify: key set "corp" appears twice`; err == nil || err.Error() != want {
			t.Fatalf("New error = %v; want %s", err, want)
		}
	})
}

// TestAlgorithmFromKeyType checks that a key without `alg` pins the
// algorithm its type implies, and a declared one is honoured.
func TestAlgorithmFromKeyType(t *testing.T) {
	for _, tt := range []struct {
		alg     jwa.SignatureAlgorithm
		withAlg bool
	}{
		{jwa.ES256, false}, {jwa.ES384, false}, {jwa.EdDSA, false}, {jwa.RS256, false}, {jwa.HS256, false},
		{jwa.PS256, true},
	} {
		t.Run(tt.alg.String(), func(t *testing.T) {
			k := newKey(t, tt.alg, "k-"+tt.alg.String())
			v, err := jwtverify.New(sdk.KeySnapshot{KeySets: []sdk.KeySet{{Name: "corp", JWKS: jwks(t, k.jwk(t, tt.withAlg)), Rules: corpRules()}}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(mint(t, k, tt.alg, nil, claims(nil)), nil, now); err != nil {
				t.Fatalf("Verify(%s): %v", tt.alg, err)
			}
		})
	}
	t.Run("RS256 key refuses PS256", func(t *testing.T) {
		k := newKey(t, jwa.RS256, "rsa")
		v, err := jwtverify.New(sdk.KeySnapshot{KeySets: []sdk.KeySet{{Name: "corp", JWKS: jwks(t, k.jwk(t, false)), Rules: corpRules()}}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(mint(t, k, jwa.PS256, nil, claims(nil)), nil, now)
		if want := `token alg "PS256" does not match the published key algorithm RS256`; err == nil || err.Error() != want {
			t.Fatalf("Verify error = %v; want %s", err, want)
		}
	})
}

// TestKeyWithoutKID covers SLIM's tokens, whose kid is the subject, against
// a key published without a kid (a PEM key).
func TestKeyWithoutKID(t *testing.T) {
	es := newKey(t, jwa.ES256, "")
	v, err := jwtverify.New(sdk.KeySnapshot{KeySets: []sdk.KeySet{{Name: "corp", JWKS: jwks(t, es.jwk(t, false)), Rules: corpRules()}}})
	if err != nil {
		t.Fatal(err)
	}
	id, err := v.Verify(mint(t, es, jwa.ES256, map[string]any{"kid": "org/ns/alice"}, claims(nil)), nil, now)
	if err != nil || id.Subject != "org/ns/alice" {
		t.Fatalf("Verify = %+v, %v", id, err)
	}
	other := newKey(t, jwa.ES256, "")
	_, err = v.Verify(mint(t, other, jwa.ES256, map[string]any{"kid": "org/ns/alice"}, claims(nil)), nil, now)
	if want := "signature does not verify with any published key"; err == nil || err.Error() != want {
		t.Fatalf("Verify(other key) = %v; want %s", err, want)
	}
}

// TestSeveralKeySets checks selection by issuer and trust domain, and that
// the rules of the set whose key verified apply.
func TestSeveralKeySets(t *testing.T) {
	corp := newKey(t, jwa.ES256, "corp-1")
	spire := newKey(t, jwa.EdDSA, "spire-1")
	v, err := jwtverify.New(sdk.KeySnapshot{Generation: 9, KeySets: []sdk.KeySet{
		{Name: "corp", JWKS: jwks(t, corp.jwk(t, true)), Rules: corpRules()},
		{Name: "example.org", JWKS: jwks(t, spire.jwk(t, false)), Rules: sdk.ClaimRules{SPIFFETrustDomain: "example.org", RequireKID: true, Audiences: []string{"spiffe-aud"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if v.Generation() != 9 {
		t.Fatalf("Generation = %d", v.Generation())
	}
	svid := mint(t, spire, jwa.EdDSA, nil, claims(map[string]any{"iss": nil, "sub": "spiffe://example.org/w", "aud": "spiffe-aud"}))
	if id, err := v.Verify(svid, nil, now); err != nil || id.Issuer != "spiffe://example.org" {
		t.Fatalf("Verify(svid) = %+v, %v", id, err)
	}
	// The SPIRE key cannot vouch for the corporate issuer's tokens.
	forged := mint(t, spire, jwa.EdDSA, nil, claims(nil))
	if _, err := v.Verify(forged, nil, now); !errors.Is(err, jwtverify.ErrUndecided) {
		t.Fatalf("Verify(forged) = %v; want undecided", err)
	}
}

func TestUsableKeys(t *testing.T) {
	es := newKey(t, jwa.ES256, "good")
	enc := es.jwk(t, false)
	enc["kid"], enc["use"] = "enc", "enc"
	bad := es.jwk(t, false)
	bad["kid"], bad["alg"] = "bad", "RS256"
	kept, skipped, err := jwtverify.UsableKeys(jwks(t, es.jwk(t, true), enc, bad))
	if err != nil {
		t.Fatal(err)
	}
	if len(skipped) != 1 || skipped[0].Error() != `key 2 (kid "bad"): alg RS256 needs a RSA key, not EC` {
		t.Fatalf("skipped = %v", skipped)
	}
	set, err := jwk.Parse(kept)
	if err != nil || set.Len() != 1 {
		t.Fatalf("kept %s: %v", kept, err)
	}
	if _, _, err := jwtverify.UsableKeys([]byte("[]")); err == nil {
		t.Fatal("UsableKeys accepted a JSON array")
	}
}
