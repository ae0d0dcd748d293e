package jwtverify_test

import (
	"encoding/json"
	"testing"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/jwtverify"
)

// TestGoJoseTokens verifies tokens and key sets made by an independent JOSE
// implementation.
func TestGoJoseTokens(t *testing.T) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.ES384, jwa.EdDSA, jwa.RS256, jwa.PS256, jwa.HS256} {
		t.Run(alg.String(), func(t *testing.T) {
			k := newKey(t, alg, "jose-"+alg.String())
			opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k.kid)
			signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: k.priv}, opts)
			if err != nil {
				t.Fatal(err)
			}
			token, err := josejwt.Signed(signer).Claims(claims(nil)).Serialize()
			if err != nil {
				t.Fatal(err)
			}
			// The key set is go-jose's JSON too.
			set, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.pub, KeyID: k.kid, Algorithm: string(alg), Use: "sig"}}})
			if err != nil {
				t.Fatal(err)
			}
			v, err := jwtverify.New(sdk.KeySnapshot{KeySets: []sdk.KeySet{{Name: "corp", JWKS: set, Rules: corpRules()}}})
			if err != nil {
				t.Fatal(err)
			}
			id, err := v.Verify(token, nil, now)
			if err != nil || id.Subject != "org/ns/alice" {
				t.Fatalf("Verify = %+v, %v", id, err)
			}
		})
	}
}
