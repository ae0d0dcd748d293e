package jwtverify_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/jwtverify"
)

func Example() {
	seed := sha256.Sum256([]byte("example"))
	priv := ed25519.NewKeyFromSeed(seed[:])
	pub := priv.Public().(ed25519.PublicKey)
	jwksDoc := fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":%q}]}`, base64.RawURLEncoding.EncodeToString(pub))

	v, err := jwtverify.New(sdk.KeySnapshot{Generation: 1, KeySets: []sdk.KeySet{{
		Name:  "corp-issuer",
		JWKS:  []byte(jwksDoc),
		Rules: sdk.ClaimRules{Issuers: []string{"corp-issuer"}, Audiences: []string{"slim"}, Leeway: time.Minute},
	}}})
	if err != nil {
		fmt.Println(err)
		return
	}

	at := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	token := signEd25519(priv, "k1", map[string]any{
		"iss": "corp-issuer", "sub": "org/ns/alice", "aud": []string{"slim"},
		"iat": at.Unix(), "exp": at.Add(time.Hour).Unix(),
	})

	id, err := v.Verify(token, nil, at)
	fmt.Println(id.Subject, id.ExpiresAt.Format(time.RFC3339), err)

	_, err = v.Verify(token, nil, at.Add(2*time.Hour))
	fmt.Println(errors.Is(err, sdk.ErrExpired), err)

	_, err = v.Verify(signEd25519(priv, "k2", map[string]any{"iss": "corp-issuer"}), nil, at)
	fmt.Println(errors.Is(err, jwtverify.ErrUndecided))
	// Output:
	// org/ns/alice 2026-12-04T13:00:00Z <nil>
	// true token expired at 2026-12-04T13:00:00Z (now 2026-12-04T14:00:00Z, leeway 1m0s)
	// true
}

func ExampleSlimClaimsAudience() {
	aud, err := jwtverify.SlimClaimsAudience(map[string]any{"pubkey": "AAEC"})
	fmt.Println(aud, err)
	// Output: slim-claims:eyJwdWJrZXkiOiJBQUVDIn0= <nil>
}

// signEd25519 builds a compact EdDSA JWS.
func signEd25519(priv ed25519.PrivateKey, kid string, claims map[string]any) string {
	enc := func(v any) string {
		raw, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(raw)
	}
	input := enc(map[string]string{"alg": "EdDSA", "kid": kid}) + "." + enc(claims)
	return input + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(priv, []byte(input)))
}
