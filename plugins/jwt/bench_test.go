package jwt_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	jwxjwt "github.com/lestrrat-go/jwx/v2/jwt"
	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/jwtverify"
	"github.com/slimid/slimid/sdk/sdktest"
)

// BenchmarkVerify measures one verification four ways: jwx's jwt.Parse
// called directly, sdk/jwtverify with the published snapshot (the broker's
// in-process path), and the plugin's Verify over the in-memory gRPC pipe
// (built-in) and over go-plugin (external binary).
func BenchmarkVerify(b *testing.B) {
	for _, tc := range []struct{ alg, private, public string }{
		{"ES256", "es256_private.pem", "es256_public.pem"},
		{"EdDSA", "eddsa_private.pem", "eddsa_public.pem"},
		{"RS256", "rsa2048_private.pem", "rsa2048_public.pem"},
	} {
		config := fmt.Sprintf(`
provider:
  claims: {issuer: corp-issuer, audience: [slim], subject: org/ns/alice}
  key: {type: encoding, algorithm: %[1]s, format: pem, key: {file: testdata/%[2]s}}
verifier:
  claims: {issuer: corp-issuer, audience: [slim]}
  key: {type: decoding, algorithm: %[1]s, format: pem, key: {file: testdata/%[3]s}}
`, tc.alg, tc.private, tc.public)
		p, _ := newPlugin(b)
		configure(b, p, config)
		ctx := context.Background()
		tok, err := p.FetchToken(ctx, sdk.TokenRequest{PublicKey: make([]byte, 32)})
		if err != nil {
			b.Fatal(err)
		}
		token := tok.Value
		snap := waitSnapshot(b, watch(b, p), "a key set", func(s sdk.KeySnapshot) bool { return len(s.KeySets) == 1 })

		b.Run(tc.alg+"/jwx", func(b *testing.B) {
			key, err := jwk.ParseKey(readFile(b, "testdata/"+tc.public), jwk.WithPEM(true))
			if err != nil {
				b.Fatal(err)
			}
			var pub any // the raw key: jwx's cheapest path
			if err := key.Raw(&pub); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				_, err := jwxjwt.Parse([]byte(token), jwxjwt.WithKey(jwa.SignatureAlgorithm(tc.alg), pub), jwxjwt.WithValidate(true),
					jwxjwt.WithAudience("slim"), jwxjwt.WithIssuer("corp-issuer"), jwxjwt.WithAcceptableSkew(time.Minute))
				if err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.alg+"/jwtverify", func(b *testing.B) {
			v, err := jwtverify.New(snap)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := v.Verify(token, nil, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.alg+"/plugin-in-process", func(b *testing.B) {
			fresh, _ := newPlugin(b)
			srv, err := sdk.ServeInProcess(fresh, "bench", nil)
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			benchClient(b, srv.Client, config, token)
		})
		b.Run(tc.alg+"/plugin-external", func(b *testing.B) {
			if testing.Short() {
				b.Skip("builds the plugin binary; run without -short")
			}
			path, sum := sdktest.BuildBinary(b, "github.com/slimid/slimid/cmd/slimid-plugin-jwt")
			proc, err := sdk.Launch(sdk.LaunchConfig{Name: "bench", Path: path, SHA256: sum})
			if err != nil {
				b.Fatal(err)
			}
			defer proc.Kill()
			benchClient(b, proc.Client, config, token)
		})
	}
}

func benchClient(b *testing.B, c *sdk.Client, config, token string) {
	ctx := context.Background()
	if _, err := c.Configure(ctx, []byte(config)); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := c.Verify(ctx, sdk.VerifyRequest{Token: token}); err != nil {
			b.Fatal(err)
		}
	}
}
