package spire_test

import (
	"errors"
	"testing"
	"time"

	"github.com/slimid/slimid/plugins/spire"
	"github.com/slimid/slimid/plugins/spire/spiretest"
	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/jwtverify"
)

func TestWatchTokenRotates(t *testing.T) {
	t.Parallel()
	env := spiretest.Start(t, spiretest.Options{JWTSVIDTTL: 30 * time.Second, X509SVIDTTL: 30 * time.Second})
	p := startPlugin(t, env, "")
	key := mlsKey(t)
	tokens := watchTokens(t, p, sdk.TokenRequest{PublicKey: key})

	first := receive(t, tokens, 10*time.Second, "first token")
	second := receive(t, tokens, 40*time.Second, "rotated token")
	received := time.Now()
	t.Logf("rotation observed %s after the first token was issued (lifetime %s)",
		received.Sub(first.IssuedAt).Round(time.Millisecond), first.ExpiresAt.Sub(first.IssuedAt))

	if second.Value == first.Value || !second.IssuedAt.After(first.IssuedAt) {
		t.Fatalf("second token issued %s, first %s; want a fresh token", second.IssuedAt, first.IssuedAt)
	}
	if !received.Before(first.ExpiresAt) {
		t.Fatalf("the new token came at %s, after the old one expired at %s", received, first.ExpiresAt)
	}
	if half := first.IssuedAt.Add(first.ExpiresAt.Sub(first.IssuedAt) / 2); second.IssuedAt.Before(half) {
		t.Fatalf("the new token was issued at %s, before half of the old one's lifetime (%s)", second.IssuedAt, half)
	}
	for _, tok := range []sdk.Token{first, second} {
		id, err := p.Verify(t.Context(), sdk.VerifyRequest{Token: tok.Value})
		if err != nil || string(id.PublicKey) != string(key) {
			t.Fatalf("Verify(watched token) = %x, %v; want the bound key", id.PublicKey, err)
		}
	}
}

func TestJWTAuthorityRotation(t *testing.T) {
	t.Parallel()
	// SPIRE prepares the next JWT key at half of ca_ttl and activates it at
	// about five sixths.
	env := spiretest.Start(t, spiretest.Options{CATTL: time.Minute, JWTSVIDTTL: 30 * time.Second, X509SVIDTTL: 30 * time.Second})
	p := startPlugin(t, env, "")
	snaps := make(chan sdk.KeySnapshot, 16)
	go func() {
		_ = p.WatchKeys(t.Context(), func(s sdk.KeySnapshot) error { snaps <- s; return nil })
	}()
	start := time.Now()
	first := receive(t, snaps, 10*time.Second, "first snapshot")
	if n := keyCount(t, first.KeySets[0].JWKS); n != 1 {
		t.Fatalf("first snapshot holds %d JWT authorities; want 1", n)
	}
	old := fetch(t, p)
	oldHeader, _ := jwtParts(t, old.Value)

	var rotated sdk.KeySnapshot
	for rotated.Generation == 0 {
		s := receive(t, snaps, 90*time.Second, "snapshot with the next JWT authority")
		if s.Generation <= first.Generation {
			t.Fatalf("generation %d after %d; generations must grow", s.Generation, first.Generation)
		}
		if keyCount(t, s.KeySets[0].JWKS) == 2 {
			rotated = s
		}
	}
	t.Logf("next JWT authority published through WatchKeys %s after the first snapshot (generation %d -> %d)",
		time.Since(start).Round(time.Millisecond), first.Generation, rotated.Generation)

	v, err := jwtverify.New(rotated)
	if err != nil {
		t.Fatalf("jwtverify.New(rotated): %v", err)
	}
	if _, err := v.Verify(old.Value, nil, time.Now()); err != nil {
		t.Fatalf("a token signed before the rotation no longer verifies with the new snapshot: %v", err)
	}

	// Once the new key is active, tokens carry its kid; the old snapshot
	// cannot decide them, the current one can.
	var fresh sdk.Token
	deadline := time.Now().Add(90 * time.Second)
	for {
		fresh = fetch(t, p)
		if h, _ := jwtParts(t, fresh.Value); h["kid"] != oldHeader["kid"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no token signed by the next JWT authority within 90s")
		}
		time.Sleep(time.Second)
	}
	t.Logf("first token signed by the next JWT authority %s after the first snapshot", time.Since(start).Round(time.Millisecond))
	oldVerifier, err := jwtverify.New(first)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oldVerifier.Verify(fresh.Value, nil, time.Now()); !errors.Is(err, jwtverify.ErrUndecided) {
		t.Fatalf("the pre-rotation snapshot on a token of the new key = %v; want undecided", err)
	}
	if _, err := p.Verify(t.Context(), sdk.VerifyRequest{Token: fresh.Value}); err != nil {
		t.Fatalf("Verify(token of the new key): %v", err)
	}
}

// fetch asks for a token with the configured audiences.
func fetch(t testing.TB, p *spire.Plugin) sdk.Token {
	t.Helper()
	tok, err := p.FetchToken(t.Context(), sdk.TokenRequest{})
	if err != nil {
		t.Fatalf("FetchToken: %v", err)
	}
	return tok
}
