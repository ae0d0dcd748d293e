package jwtverify_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// now is the fixed clock every test verifies at.
var now = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

// testKey is a signing key and what a verifier publishes for it.
type testKey struct {
	alg  jwa.SignatureAlgorithm
	kid  string
	priv crypto.PrivateKey // []byte for HMAC
	pub  any
}

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

// newKey makes a key for alg; RSA keys are generated once per test binary.
func newKey(t testing.TB, alg jwa.SignatureAlgorithm, kid string) testKey {
	t.Helper()
	k := testKey{alg: alg, kid: kid}
	switch alg {
	case jwa.ES256, jwa.ES384:
		curve := elliptic.P256()
		if alg == jwa.ES384 {
			curve = elliptic.P384()
		}
		priv, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k.priv, k.pub = priv, &priv.PublicKey
	case jwa.EdDSA:
		seed := sha256.Sum256([]byte(kid))
		priv := ed25519.NewKeyFromSeed(seed[:])
		k.priv, k.pub = priv, priv.Public()
	case jwa.RS256, jwa.PS256:
		rsaOnce.Do(func() {
			var err error
			if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
				panic(err)
			}
		})
		k.priv, k.pub = rsaKey, &rsaKey.PublicKey
	case jwa.HS256:
		secret := sha256.Sum256([]byte("hmac secret for " + kid))
		k.priv, k.pub = secret[:], secret[:]
	default:
		t.Fatalf("newKey: unsupported alg %s", alg)
	}
	return k
}

// jwk returns the public JWK; withAlg adds the key's `alg`.
func (k testKey) jwk(t testing.TB, withAlg bool) map[string]any {
	t.Helper()
	key, err := jwk.FromRaw(k.pub)
	if err != nil {
		t.Fatal(err)
	}
	if k.kid != "" {
		_ = key.Set(jwk.KeyIDKey, k.kid)
	}
	if withAlg {
		_ = key.Set(jwk.AlgorithmKey, k.alg)
	}
	raw, err := json.Marshal(key)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// jwks builds a JWKS document of JWKs.
func jwks(t testing.TB, keys ...map[string]any) []byte {
	t.Helper()
	if keys == nil {
		keys = []map[string]any{}
	}
	doc, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// mint builds a compact JWS by hand, so tests can put anything in the
// header, and signs it with k (under alg, which may differ from k.alg).
func mint(t testing.TB, k testKey, alg jwa.SignatureAlgorithm, hdr, claims map[string]any) string {
	t.Helper()
	h := map[string]any{"alg": string(alg), "typ": "JWT"}
	if k.kid != "" {
		h["kid"] = k.kid
	}
	for name, v := range hdr {
		if v == nil {
			delete(h, name)
			continue
		}
		h[name] = v
	}
	input := b64json(t, h) + "." + b64json(t, claims)
	signer, err := jws.NewSigner(alg)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.Sign([]byte(input), k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// mintHMAC signs with an explicit HMAC key (for key-confusion attacks).
func mintHMAC(t testing.TB, secret []byte, hdr, claims map[string]any) string {
	t.Helper()
	return mint(t, testKey{priv: secret}, jwa.HS256, hdr, claims)
}

func b64json(t testing.TB, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

// claims returns a valid claim set, changed by edit (nil deletes a claim).
func claims(edit map[string]any) map[string]any {
	c := map[string]any{
		"iss":    "corp-issuer",
		"sub":    "org/ns/alice",
		"aud":    []string{"slim"},
		"iat":    now.Add(-10 * time.Second).Unix(),
		"nbf":    now.Add(-10 * time.Second).Unix(),
		"exp":    now.Add(time.Hour).Unix(),
		"pubkey": base64.StdEncoding.EncodeToString(make([]byte, 32)),
	}
	for k, v := range edit {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}
