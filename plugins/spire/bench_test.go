package spire_test

import (
	"testing"
	"time"

	"github.com/slimid/slimid/plugins/spire"
	"github.com/slimid/slimid/plugins/spire/spiretest"
	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/jwtverify"
)

// BenchmarkVerify measures JWT-SVID verification three ways: the plugin's
// Verify called in process, the same over the in-memory gRPC pipe that
// built-in plugins take, and jwtverify with the snapshot WatchKeys
// publishes (what the broker runs in process).
func BenchmarkVerify(b *testing.B) {
	env := spiretest.Start(b, spiretest.Options{})
	p := startPlugin(b, env, "")
	tok, err := p.FetchToken(b.Context(), sdk.TokenRequest{PublicKey: mlsKey(b)})
	if err != nil {
		b.Fatal(err)
	}
	req := sdk.VerifyRequest{Token: tok.Value}

	b.Run("plugin", func(b *testing.B) {
		for b.Loop() {
			if _, err := p.Verify(b.Context(), req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("plugin-over-pipe", func(b *testing.B) {
		// Its own instance: closing the pipe closes the plugin it serves.
		served, err := sdk.ServeInProcess(spire.New(), "spire", nil)
		if err != nil {
			b.Fatal(err)
		}
		defer served.Close()
		if _, err := served.Client.Configure(b.Context(), configFor(env, "")); err != nil {
			b.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if st, err := served.Client.Status(b.Context()); err == nil && st.Ready {
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("the served plugin did not become ready")
			}
		}
		for b.Loop() {
			if _, err := served.Client.Verify(b.Context(), req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("jwtverify-snapshot", func(b *testing.B) {
		v, err := jwtverify.New(firstSnapshot(b, p))
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := v.Verify(tok.Value, []string{"slim"}, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkFetchToken measures a JWT-SVID fetch from the agent (it serves
// its cached token, so this is the Workload API round trip).
func BenchmarkFetchToken(b *testing.B) {
	env := spiretest.Start(b, spiretest.Options{})
	p := startPlugin(b, env, "")
	req := sdk.TokenRequest{PublicKey: mlsKey(b)}
	for b.Loop() {
		if _, err := p.FetchToken(b.Context(), req); err != nil {
			b.Fatal(err)
		}
	}
}
