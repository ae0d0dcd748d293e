package jwtverify_test

import (
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwt"
	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/jwtverify"
)

// BenchmarkVerify compares jwx's jwt.Parse with a pinned key and
// validation, called directly, with the same check through a Verifier (the
// broker's in-process path).
func BenchmarkVerify(b *testing.B) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA, jwa.RS256} {
		k := newKey(b, alg, "bench-"+alg.String())
		token := mint(b, k, alg, nil, claims(nil))
		b.Run(alg.String()+"/jwx", func(b *testing.B) {
			clock := jwt.ClockFunc(func() time.Time { return now })
			for b.Loop() {
				_, err := jwt.Parse([]byte(token), jwt.WithKey(alg, k.pub), jwt.WithValidate(true),
					jwt.WithAudience("slim"), jwt.WithIssuer("corp-issuer"), jwt.WithClock(clock), jwt.WithAcceptableSkew(time.Minute))
				if err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(alg.String()+"/jwtverify", func(b *testing.B) {
			v, err := jwtverify.New(sdk.KeySnapshot{KeySets: []sdk.KeySet{{Name: "corp", JWKS: jwks(b, k.jwk(b, true)), Rules: corpRules()}}})
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := v.Verify(token, nil, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyPaired alternates jwx and a Verifier on the same token in
// every iteration and reports both costs and their ratio, which stays
// meaningful on a loaded machine where separate runs drift apart.
func BenchmarkVerifyPaired(b *testing.B) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA, jwa.RS256} {
		b.Run(alg.String(), func(b *testing.B) {
			k := newKey(b, alg, "bench-"+alg.String())
			token := mint(b, k, alg, nil, claims(nil))
			v, err := jwtverify.New(sdk.KeySnapshot{KeySets: []sdk.KeySet{{Name: "corp", JWKS: jwks(b, k.jwk(b, true)), Rules: corpRules()}}})
			if err != nil {
				b.Fatal(err)
			}
			clock := jwt.ClockFunc(func() time.Time { return now })
			var direct, ours time.Duration
			for b.Loop() {
				start := time.Now()
				_, err := jwt.Parse([]byte(token), jwt.WithKey(alg, k.pub), jwt.WithValidate(true),
					jwt.WithAudience("slim"), jwt.WithIssuer("corp-issuer"), jwt.WithClock(clock), jwt.WithAcceptableSkew(time.Minute))
				mid := time.Now()
				_, verr := v.Verify(token, nil, now)
				end := time.Now()
				if err != nil || verr != nil {
					b.Fatal(err, verr)
				}
				direct += mid.Sub(start)
				ours += end.Sub(mid)
			}
			b.ReportMetric(float64(direct.Microseconds())/float64(b.N), "jwx-µs/op")
			b.ReportMetric(float64(ours.Microseconds())/float64(b.N), "jwtverify-µs/op")
			b.ReportMetric(float64(ours)/float64(direct), "ratio")
		})
	}
}
