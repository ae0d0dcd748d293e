package broker_test

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/slimid/slimid/sdk"
)

// WatchToken keeps delivering across a crash of the plugin: the restarted
// instance sends the next token.
func TestWatchTokenSurvivesRestart(t *testing.T) {
	b := start(t, "restart: {initial_backoff: 50ms}\nplugins:\n"+entry(t, "ext", secretA, true, "      validity_window: 4s\n"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tokens := make(chan sdk.Token, 16)
	go func() {
		_ = b.WatchToken(ctx, "ext", sdk.TokenRequest{PublicKey: []byte("k")}, func(tok sdk.Token) error {
			tokens <- tok
			return nil
		})
	}()
	first := <-tokens
	pid := b.Plugins(ctx)[0].Pid
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case next := <-tokens:
		if next.Value == first.Value || next.Subject == "" {
			t.Fatalf("next token = %+v", next)
		}
		if _, err := b.Verify(ctx, "ext", sdk.VerifyRequest{Token: next.Value}); err != nil {
			t.Fatalf("token after restart: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("no token after the plugin restarted")
	}
	if got := b.Plugins(ctx)[0].Restarts; got != 1 {
		t.Fatalf("restarts = %d", got)
	}
}

// Plugins that cannot push tokens are polled at half-life: a 4 s token is
// followed by a fresh one about 2 s later.
func TestWatchTokenRefreshesAtHalfLife(t *testing.T) {
	b := start(t, "plugins:\n"+entry(t, "team", secretA, false, "      validity_window: 4s\n"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []sdk.Token
	stop := errors.New("enough")
	err := b.WatchToken(ctx, "team", sdk.TokenRequest{}, func(tok sdk.Token) error {
		got = append(got, tok)
		if len(got) == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("WatchToken = %v", err)
	}
	if got[1].Value == got[0].Value || !got[1].ExpiresAt.After(got[0].ExpiresAt) {
		t.Fatalf("second token %+v does not renew %+v", got[1], got[0])
	}
	if !got[0].ExpiresAt.After(time.Now().Add(-time.Second)) {
		t.Fatal("the first token expired before the second arrived")
	}
}
