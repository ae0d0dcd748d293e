package broker_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slimid/slimid/broker"
	"github.com/slimid/slimid/sdk"
)

// A reload that swaps a plugin's config, then its binary (built in to
// external and back), under a verify load loses no request.
func TestReloadWithoutFailedRequests(t *testing.T) {
	b := start(t, "plugins:\n"+entry(t, "team", secretA, false, ""))
	m := minter(t, secretA)
	tokens := make([]string, 50)
	for i := range tokens {
		tokens[i] = mint(t, m)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var total, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; ctx.Err() == nil; i++ {
				_, err := b.Verify(context.Background(), "team", sdk.VerifyRequest{Token: tokens[i%len(tokens)], Audiences: nil, At: time.Now()})
				total.Add(1)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		})
	}
	steps := []struct {
		name string
		yaml string
		want broker.ReloadResult
	}{
		{"config change", "plugins:\n" + entry(t, "team", secretA, false, "      validity_window: 2h\n"), broker.ReloadResult{Replaced: []string{"team"}}},
		{"to external", "plugins:\n" + entry(t, "team", secretA, true, ""), broker.ReloadResult{Replaced: []string{"team"}}},
		{"add a plugin", "plugins:\n" + entry(t, "team", secretA, true, "") + entry(t, "other", secretB, false, ""), broker.ReloadResult{Started: []string{"other"}, Unchanged: []string{"team"}}},
		{"back to built-in, drop one", "plugins:\n" + entry(t, "team", secretA, false, ""), broker.ReloadResult{Replaced: []string{"team"}, Stopped: []string{"other"}}},
	}
	for _, step := range steps {
		time.Sleep(100 * time.Millisecond)
		res, err := b.Reload(context.Background(), parse(t, step.yaml))
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if !slices.Equal(res.Replaced, step.want.Replaced) || !slices.Equal(res.Started, step.want.Started) ||
			!slices.Equal(res.Stopped, step.want.Stopped) || !slices.Equal(res.Unchanged, step.want.Unchanged) {
			t.Fatalf("%s: result %+v; want %+v", step.name, res, step.want)
		}
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed across reloads; first: %v", failed.Load(), total.Load(), firstErr.Load())
	}
	t.Logf("%d requests, none failed, across %d reloads", total.Load(), len(steps))
}

// A reload whose new plugin cannot start changes nothing.
func TestReloadFailureKeepsRunningConfig(t *testing.T) {
	b := start(t, "plugins:\n"+entry(t, "team", secretA, false, ""))
	_, err := b.Reload(context.Background(), parse(t, "plugins:\n"+entry(t, "team", "too-short", false, "")+entry(t, "new", secretB, false, "")))
	if !errors.Is(err, sdk.ErrInvalidConfig) {
		t.Fatalf("Reload = %v; want an invalid configuration", err)
	}
	if _, err := b.Verify(context.Background(), "team", sdk.VerifyRequest{Token: mint(t, minter(t, secretA))}); err != nil {
		t.Fatalf("old plugin after failed reload: %v", err)
	}
	if _, err := b.Verify(context.Background(), "new", sdk.VerifyRequest{Token: "x"}); !errors.Is(err, broker.ErrUnknownPlugin) {
		t.Fatalf("half-applied reload: %v", err)
	}
}

// A reload that changes the secret invalidates cached verdicts at once.
func TestReloadInvalidatesCache(t *testing.T) {
	b := start(t, "plugins:\n"+entry(t, "team", secretA, false, ""))
	tok := mint(t, minter(t, secretA))
	for range 2 {
		if _, err := b.Verify(context.Background(), "team", sdk.VerifyRequest{Token: tok}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Reload(context.Background(), parse(t, "plugins:\n"+entry(t, "team", secretB, false, ""))); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Verify(context.Background(), "team", sdk.VerifyRequest{Token: tok}); !errors.Is(err, sdk.ErrInvalid) {
		t.Fatalf("token of the old secret after reload = %v; want rejected", err)
	}
}
