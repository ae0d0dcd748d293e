package spiffehelper_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/slimid/slimid/plugins/spiffehelper"
	"github.com/slimid/slimid/sdk"
)

// BenchmarkRotation measures, per write mode, the time from the start of
// writing a rotated jwt_svid.token to WatchToken pushing it, over b.N
// rotations, and reports its p50 and p99 in milliseconds. The in-place
// writer does what spiffe-helper does (truncate and write in one call, no
// pause). Run many rotations for a stable p99:
//
//	go test -run '^$' -bench Rotation -benchtime 500x ./plugins/spiffehelper
func BenchmarkRotation(b *testing.B) {
	for _, mode := range writeModes {
		b.Run(string(mode), func(b *testing.B) {
			h := newHelperDir(b, mode, 0)
			a := newAuthority(b, "example.org")
			issued := time.Now().Add(-time.Minute)
			tokens := make([][]byte, b.N+1)
			for i := range tokens {
				tokens[i] = []byte(a.sign(b, svidClaims{issuedAt: issued, jti: fmt.Sprint(i)}))
			}
			h.write(file{"key.jwt", keyJWT(b, a)}, file{"jwt_svid.token", tokens[0]})
			p, _, _ := configured(b, h.dir, "")
			pushed := watchTokens(b, p, sdk.TokenRequest{})
			next(b, pushed)

			latencies := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 1; i <= b.N; i++ {
				start := time.Now()
				h.write(file{"jwt_svid.token", tokens[i]})
				if got := next(b, pushed); got.Value != string(tokens[i]) {
					b.Fatalf("rotation %d: pushed another token", i)
				}
				latencies = append(latencies, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(latencies)
			b.ReportMetric(ms(latencies[len(latencies)/2]), "p50-ms")
			b.ReportMetric(ms(latencies[(len(latencies)*99)/100]), "p99-ms")
		})
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkVerify is the cost of checking a peer's JWT-SVID: in process, as
// the broker does with the published keys, and over the in-memory gRPC
// pipe that built-in plugins are served on.
func BenchmarkVerify(b *testing.B) {
	dir := b.TempDir()
	a := writeFixture(b, dir)
	peer := a.sign(b, svidClaims{path: "/peer"})
	p, _, _ := configured(b, dir, "")
	b.Run("in-process", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Verify(b.Context(), sdk.VerifyRequest{Token: peer}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("in-memory-grpc", func(b *testing.B) {
		plugin := spiffehelper.New(spiffehelper.WithRegisterer(nil))
		defer plugin.Close()
		served, err := sdk.ServeInProcess(plugin, "bench", nil)
		if err != nil {
			b.Fatal(err)
		}
		defer served.Close()
		if _, err := served.Client.Configure(b.Context(), fmt.Appendf(nil, "cert_dir: %s\njwt_audiences: [slim-demo]\n", dir)); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := served.Client.Verify(b.Context(), sdk.VerifyRequest{Token: peer}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
