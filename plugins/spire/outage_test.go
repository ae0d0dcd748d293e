package spire_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/slimid/slimid/plugins/spire/spiretest"
	"github.com/slimid/slimid/sdk"
)

func TestAgentOutage(t *testing.T) {
	t.Parallel()
	env := spiretest.Start(t, spiretest.Options{JWTSVIDTTL: 30 * time.Second, X509SVIDTTL: time.Minute})
	p := startPlugin(t, env, "leeway: 0s\n")
	ctx := t.Context()
	req := sdk.TokenRequest{PublicKey: mlsKey(t)}
	tok, err := p.FetchToken(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	svid, err := p.FetchX509SVID(ctx)
	if err != nil {
		t.Fatal(err)
	}

	env.KillAgent(t)
	down := time.Now()
	st := waitStatus(t, p, false, "unreachable since")
	t.Logf("not ready %s after the agent was killed: %s", time.Since(down).Round(time.Millisecond), st.Message)

	t.Run("unexpired material is still served", func(t *testing.T) {
		cached, err := p.FetchToken(ctx, req)
		if err != nil || cached.Value != tok.Value {
			t.Fatalf("FetchToken while the agent is down = %v; want the cached token", err)
		}
		if _, err := p.FetchToken(ctx, sdk.TokenRequest{Audiences: []string{"never-fetched"}}); !errors.Is(err, sdk.ErrUnavailable) {
			t.Fatalf("FetchToken for new audiences while the agent is down = %v; want an outage", err)
		}
		if _, err := p.Verify(ctx, sdk.VerifyRequest{Token: tok.Value}); err != nil {
			t.Fatalf("Verify with the cached bundles: %v", err)
		}
		again, err := p.FetchX509SVID(ctx)
		if err != nil || !again.Chain[0].Equal(svid.Chain[0]) {
			t.Fatalf("FetchX509SVID while the agent is down = %v; want the cached SVID", err)
		}
		if _, err := p.VerifyX509(ctx, svid.Chain, time.Now()); err != nil {
			t.Fatalf("VerifyX509 with the cached bundles: %v", err)
		}
		watched := receive(t, watchTokens(t, p, req), 10*time.Second, "token from WatchToken during the outage")
		if watched.Value != tok.Value {
			t.Fatal("WatchToken during the outage sent another token than the cached one")
		}
	})

	env.StartAgent(t)
	up := time.Now()
	waitStatus(t, p, true, "")
	t.Logf("ready again %s after the agent restarted", time.Since(up).Round(time.Millisecond))
	last, err := p.FetchToken(ctx, req)
	if err != nil {
		t.Fatalf("FetchToken after the restart: %v", err)
	}

	t.Run("an expired token is never handed out", func(t *testing.T) {
		env.KillAgent(t)
		waitStatus(t, p, false, "unreachable since")
		watchCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		watchErr := make(chan error, 1)
		go func() {
			watchErr <- p.WatchToken(watchCtx, req, func(sdk.Token) error { return nil })
		}()

		time.Sleep(time.Until(last.ExpiresAt.Add(100 * time.Millisecond)))
		tok, err := p.FetchToken(ctx, req)
		if !errors.Is(err, sdk.ErrUnavailable) {
			t.Fatalf("FetchToken after the cached token expired = %+v, %v; want an outage", tok, err)
		}
		if _, err := p.Verify(ctx, sdk.VerifyRequest{Token: last.Value}); !errors.Is(err, sdk.ErrExpired) {
			t.Fatalf("Verify(expired token) = %v; want expired", err)
		}
		select {
		case err := <-watchErr:
			if !errors.Is(err, sdk.ErrUnavailable) {
				t.Fatalf("WatchToken ended with %v; want an outage", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("WatchToken kept going after its last token expired and the agent stayed away")
		}
	})
}

func TestDeletedEntryIsNotServedFromCache(t *testing.T) {
	env := spiretest.Start(t, spiretest.Options{})
	p := startPlugin(t, env, "")
	if _, err := p.FetchToken(t.Context(), sdk.TokenRequest{}); err != nil {
		t.Fatal(err)
	}
	env.DeleteEntry(t, env.EntryID)
	waitStatus(t, p, false, "issues no identity to this workload")
	// The agent answers, and says no: the cached token must not stand in.
	if tok, err := p.FetchToken(t.Context(), sdk.TokenRequest{}); !errors.Is(err, sdk.ErrUnavailable) {
		t.Fatalf("FetchToken after the entry was deleted = %+v, %v; want an outage", tok, err)
	}
	if _, err := p.FetchX509SVID(t.Context()); !errors.Is(err, sdk.ErrUnavailable) {
		t.Fatalf("FetchX509SVID after the entry was deleted = %v; want an outage", err)
	}
}
