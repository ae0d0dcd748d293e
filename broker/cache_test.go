package broker_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/slimid/slimid/broker"
	"github.com/slimid/slimid/sdk"
)

func startWithRegistry(t *testing.T, yaml string) (*broker.Broker, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	b, err := broker.New(context.Background(), parse(t, yaml), broker.Options{Builtins: builtins, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, reg
}

func verifications(t *testing.T, reg *prometheus.Registry, outcome, path string) float64 {
	t.Helper()
	return float64(verificationsByPath(t, reg, "team")[path+"/"+outcome])
}

func TestCacheServesRepeatsUntilExpiry(t *testing.T) {
	b, reg := startWithRegistry(t, "plugins:\n"+entry(t, "team", secretA, false, "      validity_window: 2s\n"))
	tok := mint(t, minter(t, secretA))
	ctx := context.Background()
	for range 3 {
		if _, err := b.Verify(ctx, "team", sdk.VerifyRequest{Token: tok, Audiences: nil}); err != nil {
			t.Fatal(err)
		}
	}
	if got := verifications(t, reg, "accepted", "cache"); got != 2 {
		t.Fatalf("cache hits = %v; want 2", got)
	}
	// Another audience is another question: not answered from the cache.
	if _, err := b.Verify(ctx, "team", sdk.VerifyRequest{Token: tok, Audiences: []string{"slim"}}); !errors.Is(err, sdk.ErrAudience) {
		t.Fatalf("other audience = %v", err)
	}
	// The minter's token lives one hour, but the broker's plugin says 2 s:
	// the cache follows the verdict's expiry. Timestamps are whole seconds
	// and a token is valid through its last second.
	time.Sleep(3100 * time.Millisecond)
	if _, err := b.Verify(ctx, "team", sdk.VerifyRequest{Token: tok}); !errors.Is(err, sdk.ErrExpired) {
		t.Fatalf("after expiry = %v; want expired", err)
	}
}

func TestSingleUseVerdictsAreNotCached(t *testing.T) {
	b := start(t, "plugins:\n"+entry(t, "team", secretA, false, "      replay_cache: {enabled: true}\n"))
	tok := mint(t, minter(t, secretA))
	if _, err := b.Verify(context.Background(), "team", sdk.VerifyRequest{Token: tok}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Verify(context.Background(), "team", sdk.VerifyRequest{Token: tok}); !errors.Is(err, sdk.ErrReplayed) {
		t.Fatalf("replay through the broker = %v; want replayed", err)
	}
}

func TestCacheCanBeTurnedOff(t *testing.T) {
	for _, yaml := range []string{
		"cache: {max_entries: -1}\nplugins:\n" + entry(t, "team", secretA, false, ""),
		"plugins:\n" + entry(t, "team", secretA, false, "") + "    cache: false\n",
	} {
		b, reg := startWithRegistry(t, yaml)
		tok := mint(t, minter(t, secretA))
		for range 3 {
			if _, err := b.Verify(context.Background(), "team", sdk.VerifyRequest{Token: tok}); err != nil {
				t.Fatal(err)
			}
		}
		if hits, plugin := verifications(t, reg, "accepted", "cache"), verifications(t, reg, "accepted", "plugin"); hits != 0 || plugin != 3 {
			t.Fatalf("%s: cache hits %v, plugin calls %v; want 0 and 3", yaml, hits, plugin)
		}
	}
}

func TestMetricsExposition(t *testing.T) {
	b, reg := startWithRegistry(t, "plugins:\n"+entry(t, "team", secretA, false, ""))
	if _, err := b.FetchToken(context.Background(), "team", sdk.TokenRequest{}); err != nil {
		t.Fatal(err)
	}
	_, _ = b.Verify(context.Background(), "team", sdk.VerifyRequest{Token: "bad"})
	want := `
# HELP slimid_plugin_up 1 while the plugin has a serving instance.
# TYPE slimid_plugin_up gauge
slimid_plugin_up{plugin="team"} 1
# HELP slimid_verifications_total Token verifications by plugin, outcome (accepted, rejected, unavailable) and path (cache, local, plugin).
# TYPE slimid_verifications_total counter
slimid_verifications_total{outcome="accepted",path="cache",plugin="team"} 0
slimid_verifications_total{outcome="accepted",path="local",plugin="team"} 0
slimid_verifications_total{outcome="accepted",path="plugin",plugin="team"} 0
slimid_verifications_total{outcome="rejected",path="cache",plugin="team"} 0
slimid_verifications_total{outcome="rejected",path="local",plugin="team"} 0
slimid_verifications_total{outcome="rejected",path="plugin",plugin="team"} 1
slimid_verifications_total{outcome="unavailable",path="cache",plugin="team"} 0
slimid_verifications_total{outcome="unavailable",path="local",plugin="team"} 0
slimid_verifications_total{outcome="unavailable",path="plugin",plugin="team"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "slimid_plugin_up", "slimid_verifications_total"); err != nil {
		t.Fatal(err)
	}
	n, err := testutil.GatherAndCount(reg, "slimid_token_expiry_seconds", "slimid_verify_duration_seconds")
	// One expiry series, and a latency series per path (cache, local, plugin).
	if err != nil || n != 4 {
		t.Fatalf("expiry and latency series = %d, %v; want 4", n, err)
	}
}
