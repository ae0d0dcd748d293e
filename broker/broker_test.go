package broker_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/slimid/slimid/broker"
	"github.com/slimid/slimid/sdk"
)

func TestVerifyBuiltinAndExternal(t *testing.T) {
	for _, external := range []bool{false, true} {
		name := map[bool]string{false: "built-in", true: "external"}[external]
		t.Run(name, func(t *testing.T) {
			b := start(t, "plugins:\n"+entry(t, "team", secretA, external, ""))
			ctx := context.Background()
			tok, err := b.FetchToken(ctx, "team", sdk.TokenRequest{Audiences: []string{"slim"}, PublicKey: []byte("key")})
			if err != nil {
				t.Fatal(err)
			}
			id, err := b.Verify(ctx, "team", sdk.VerifyRequest{Token: tok.Value, Audiences: []string{"slim"}})
			if err != nil {
				t.Fatal(err)
			}
			if id.Subject != tok.Subject || id.Provider != "team" || string(id.PublicKey) != "key" {
				t.Fatalf("identity = %+v", id)
			}
			_, err = b.Verify(ctx, "team", sdk.VerifyRequest{Token: tamper(tok.Value)})
			if !errors.Is(err, sdk.ErrInvalid) || !strings.HasPrefix(err.Error(), "plugin(team): ") {
				t.Fatalf("tampered = %v; want a prefixed rejection", err)
			}
			_, err = b.Verify(ctx, "nosuch", sdk.VerifyRequest{Token: tok.Value})
			if !errors.Is(err, broker.ErrUnknownPlugin) || err.Error() != `unknown plugin "nosuch" (configured: team)` {
				t.Fatalf("unknown plugin = %v", err)
			}
		})
	}
}

func TestChecksumMismatchRefusesToStart(t *testing.T) {
	path, sum := sharedSecretBinary(t)
	wrong := strings.Repeat("0", 64)
	_, err := broker.New(context.Background(), parse(t, "plugins:\n  - name: ext\n    path: "+path+"\n    sha256: "+wrong+"\n    config: {id: a, data: "+secretA+"}\n"), broker.Options{Builtins: builtins})
	want := "plugins[0]: plugin(ext): checksum mismatch for " + path + ": configured sha256 " + wrong + ", file has " + sum + "; refusing to start"
	if err == nil || err.Error() != want {
		t.Fatalf("New = %v\nwant %s", err, want)
	}
}

// Verify without a plugin name tries every plugin in order.
func TestVerifyAcrossPlugins(t *testing.T) {
	b := start(t, "plugins:\n"+entry(t, "a", secretA, false, "")+entry(t, "b", secretB, false, ""))
	ctx := context.Background()
	for secret, want := range map[string]string{secretA: "a", secretB: "b"} {
		id, err := b.Verify(ctx, "", sdk.VerifyRequest{Token: mint(t, minter(t, secret))})
		if err != nil || id.Provider != want {
			t.Fatalf("Verify = %+v, %v; want provider %s", id, err, want)
		}
	}
	_, err := b.Verify(ctx, "", sdk.VerifyRequest{Token: "nope"})
	want := "no plugin accepted the token: plugin(a): shared-secret token has 1 fields, want 5 (id:timestamp:nonce:claims:mac); plugin(b): shared-secret token has 1 fields, want 5 (id:timestamp:nonce:claims:mac)"
	if !errors.Is(err, sdk.ErrInvalid) || err.Error() != want {
		t.Fatalf("Verify = %v", err)
	}
	if _, err := b.FetchToken(ctx, "", sdk.TokenRequest{}); !errors.Is(err, broker.ErrNoPlugin) {
		t.Fatalf("FetchToken without a name among two minters = %v", err)
	}
}

// kill -9 of an external plugin during a stream of 1,000 verifications: no
// bad token is ever accepted, nothing is accepted while the plugin is down,
// and it serves again after its backoff.
func TestKillDuringVerifications(t *testing.T) {
	b := start(t, "restart: {initial_backoff: 50ms, max_backoff: 1s}\nplugins:\n"+entry(t, "ext", secretA, true, ""))
	ctx := context.Background()
	m := minter(t, secretA)
	repeated := mint(t, m)
	pid := b.Plugins(ctx)[0].Pid
	if pid == 0 {
		t.Fatal("no pid for the external plugin")
	}
	waitExit := exitWaiter(t, pid)

	var deadAt atomic.Int64 // unix nanos, once the process has exited
	type result struct {
		good, accepted    bool
		rejected, outage  bool
		started, finished int64
	}
	results := make([]result, 1000)
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 4 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(results) {
					return
				}
				good := i%3 != 0
				tok := repeated
				switch {
				case !good:
					tok = tamper(mint(t, m))
				case i%3 == 1:
					tok = mint(t, m) // fresh: no cache can answer
				}
				r := result{good: good, started: time.Now().UnixNano()}
				_, err := b.Verify(ctx, "ext", sdk.VerifyRequest{Token: tok})
				r.finished = time.Now().UnixNano()
				r.accepted = err == nil
				r.rejected = errors.Is(err, sdk.ErrRejected)
				r.outage = err != nil && !r.rejected
				if err != nil && !r.rejected && !errors.Is(err, sdk.ErrUnavailable) {
					t.Errorf("verification %d: %v is neither a verdict nor an outage", i, err)
				}
				results[i] = r
				if i == 300 {
					if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
						t.Error(err)
					}
					waitExit()
					deadAt.Store(time.Now().UnixNano())
				}
				// Pace the stream so the outage spans many requests.
				time.Sleep(time.Millisecond)
			}
		})
	}
	wg.Wait()
	waitUp(t, b, "ext", pid)
	for _, p := range b.Plugins(ctx) {
		if p.Restarts != 1 {
			t.Fatalf("restarts = %d; want 1", p.Restarts)
		}
	}
	// Between the process's exit and the start of its replacement nothing
	// was accepted, and no bad token was accepted at all.
	restartedAt := restartTime(t, b).UnixNano()
	var badAccepted, downAccepted, unavailable int
	for _, r := range results {
		if r.accepted && !r.good {
			badAccepted++
		}
		if r.accepted && r.started > deadAt.Load() && r.finished < restartedAt {
			downAccepted++
		}
		if r.outage {
			unavailable++
		}
	}
	if badAccepted != 0 || downAccepted != 0 {
		t.Fatalf("accepted %d bad tokens and %d while down", badAccepted, downAccepted)
	}
	if unavailable == 0 {
		t.Fatal("no verification saw the outage; the kill did not land mid-stream")
	}
	if _, err := b.Verify(ctx, "ext", sdk.VerifyRequest{Token: mint(t, m)}); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	t.Logf("%d verifications failed as unavailable during the outage", unavailable)
}

func waitUp(t *testing.T, b *broker.Broker, name string, oldPid int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, p := range b.Plugins(context.Background()) {
			if p.Name == name && p.Up && p.Pid != oldPid {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("plugin %s did not come back", name)
}

func restartTime(t *testing.T, b *broker.Broker) time.Time {
	t.Helper()
	for _, p := range b.Plugins(context.Background()) {
		return p.StartedAt
	}
	t.Fatal("no plugin")
	return time.Time{}
}
