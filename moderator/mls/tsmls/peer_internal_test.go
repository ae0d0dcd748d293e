package tsmls

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestCallsAfterExit(t *testing.T) {
	p := Start(t)
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_, err := p.Version(t.Context())
	const want = "ts-mls peer version: ts-mls peer exited (signal: killed)"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
}

func TestCallWithEndedContext(t *testing.T) {
	p := Start(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := p.Version(ctx)
	if !errors.Is(err, context.Canceled) || err.Error() != "ts-mls peer version: not sent: context canceled" {
		t.Fatalf("err = %v, want a canceled call that was not sent", err)
	}
	if _, err := p.Version(t.Context()); err != nil {
		t.Fatalf("peer unusable after a canceled call: %v", err)
	}
}

// TestConcurrentCalls: answers reach their own callers.
func TestConcurrentCalls(t *testing.T) {
	p := Start(t)
	const callers = 8
	ids := make([]string, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			kp, err := func() (KeyPackage, error) {
				s, err := p.NewSigner(t.Context(), SuiteX25519AES128GCM)
				if err != nil {
					return KeyPackage{}, err
				}
				return p.NewKeyPackage(t.Context(), s, fmt.Appendf(nil, "caller %d", i), nil)
			}()
			ids[i], errs[i] = kp.ID, err
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := range callers {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !strings.HasPrefix(ids[i], "kp") || seen[ids[i]] {
			t.Fatalf("key package ids %q are not distinct handles", ids)
		}
		seen[ids[i]] = true
	}
}
