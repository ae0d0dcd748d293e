package sharedsecret_test

import (
	"context"
	"testing"

	"github.com/slimid/slimid/sdk"
)

// BenchmarkVerifyDirect is the plugin's own cost, with no transport.
func BenchmarkVerifyDirect(b *testing.B) {
	p := configured(b, testConfig)
	pub := make([]byte, 32)
	tok, err := p.FetchToken(context.Background(), sdk.TokenRequest{PublicKey: pub, Audiences: []string{"slim"}})
	if err != nil {
		b.Fatal(err)
	}
	req := sdk.VerifyRequest{Token: tok.Value, Audiences: []string{"slim"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Verify(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}
