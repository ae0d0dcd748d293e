package spire_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slimid/slimid/plugins/spire"
	"github.com/slimid/slimid/plugins/spire/spiretest"
	"github.com/slimid/slimid/sdk"
)

// configFor is a configuration pointing at env's agent.
func configFor(env *spiretest.Env, extra string) []byte {
	return []byte(fmt.Sprintf("socket_path: %q\n%s", env.WorkloadAPIAddr, extra))
}

// startPlugin configures a plugin against env and waits until it serves.
func startPlugin(t testing.TB, env *spiretest.Env, extra string) *spire.Plugin {
	t.Helper()
	p := spire.New()
	t.Cleanup(func() { _ = p.Close() })
	if _, err := p.Configure(t.Context(), configFor(env, extra)); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	waitStatus(t, p, true, "")
	return p
}

// waitStatus polls Status until its readiness is ready and its message
// contains says.
func waitStatus(t testing.TB, p *spire.Plugin, ready bool, says string) sdk.Status {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := p.Status(t.Context())
		if st.Ready == ready && strings.Contains(st.Message, says) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("Status still %+v after 30s; want ready=%v saying %q", st, ready, says)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mlsKey is a P-256 signature key in MLS form (65-byte uncompressed point).
func mlsKey(t testing.TB) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e, err := k.PublicKey.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	return e.Bytes()
}

// jwtParts decodes a token's header and payload without verifying it.
func jwtParts(t testing.TB, token string) (header, payload map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	for i, out := range []*map[string]any{&header, &payload} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatal(err)
		}
	}
	return header, payload
}

// watchTokens runs WatchToken in the background, delivering tokens on the
// returned channel until the test ends.
func watchTokens(t testing.TB, p *spire.Plugin, req sdk.TokenRequest) <-chan sdk.Token {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	out := make(chan sdk.Token, 16)
	done := make(chan error, 1)
	go func() {
		done <- p.WatchToken(ctx, req, func(tok sdk.Token) error {
			select {
			case out <- tok:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("WatchToken ended with %v; want canceled", err)
		}
	})
	return out
}

// receive waits for the next value on ch.
func receive[T any](t testing.TB, ch <-chan T, within time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(within):
		t.Fatalf("no %s within %s", what, within)
		panic("unreachable")
	}
}
