package moderator_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/audit"
	"github.com/slimid/slimid/moderator/member"
)

// pending returns the undelivered commits and marks them delivered.
func (e *env) pending() []moderator.Outgoing {
	e.t.Helper()
	out, err := e.mod.Pending(group)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(out) > 0 {
		if err := e.mod.Delivered(group, out[len(out)-1].Epoch); err != nil {
			e.t.Fatal(err)
		}
	}
	return out
}

func (e *env) sweep() {
	e.t.Helper()
	if err := e.mod.Sweep(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

func TestExpiryRemovesUnrenewedMembers(t *testing.T) {
	var logs bytes.Buffer
	e := newEnv(t, envOptions{grace: time.Minute, logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	minterOf := func(s string) *clockMinter { return &clockMinter{subject: s, secret: secretA, clock: e.clock} }
	alice := e.candidateFrom("org/ns/alice", minterOf("org/ns/alice"))
	bob := e.candidateFrom("org/ns/bob", minterOf("org/ns/bob"))
	_, ms := e.admit(alice, bob)
	e.pending()
	bobExpiry := bob.cred.ExpiresAt

	// Fifty minutes on, alice renews; the moderator, past two thirds of its
	// own credential's lifetime, renews its own through an UpdatePath.
	e.clock.Advance(50 * time.Minute)
	next, err := member.FetchToken(context.Background(), minterOf("org/ns/alice"), "", alice.cred.Signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ms[0].Rotate(next)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.mod.HandleMessage(context.Background(), group, p); err != nil {
		t.Fatal(err)
	}
	e.sweep()
	renewals := e.pending()
	if len(renewals) != 2 || renewals[1].Reason != "moderator credential: renewal before expiry" || len(renewals[1].Messages) != 1 {
		t.Fatalf("commits after the renewals: %+v", renewals)
	}
	for _, out := range renewals {
		deliver(t, &out, ms...)
	}
	e.converged(ms...)
	if ev := e.audit.of(audit.Updated); len(ev) != 2 || ev[1].Subject != "org/ns/moderator" {
		t.Fatalf("updated events %+v", ev)
	}

	// Bob stays until the grace period after his credential's expiry ends;
	// he is reported once before.
	e.clock.Set(bobExpiry.Add(time.Minute - time.Second))
	e.sweep()
	e.sweep()
	if got := e.pending(); len(got) != 0 {
		t.Fatalf("commits before the grace period ended: %+v", got)
	}
	if n := strings.Count(logs.String(), `"msg":"member credential expires without renewal; it will be removed after the grace period"`); n != 1 || !strings.Contains(logs.String(), `"subject":"org/ns/bob"`) {
		t.Fatalf("%d warnings:\n%s", n, logs.String())
	}
	e.clock.Set(bobExpiry.Add(time.Minute))
	e.sweep()
	removal := e.pending()
	if len(removal) != 1 || !slices.Equal(removal[0].Removed, []string{"org/ns/bob"}) || !slices.Equal(removal[0].To, []string{"org/ns/alice", "org/ns/bob"}) {
		t.Fatalf("removal commits %+v", removal)
	}
	evs, err := ms[1].Receive(removal[0].Messages[0])
	if err != nil || !slices.Equal(kinds(evs), []member.EventKind{member.Removed}) {
		t.Fatalf("bob: %v %v", err, kinds(evs))
	}
	deliver(t, &removal[0], ms[0])
	e.converged(ms[0])
	want := fmt.Sprintf("credential expired at %s and was not renewed within the grace period of 1m0s", bobExpiry.UTC().Format(time.RFC3339))
	if ev := e.audit.of(audit.Expired); len(ev) != 1 || ev[0].Subject != "org/ns/bob" || ev[0].Reason != want || ev[0].Epoch != 4 {
		t.Fatalf("expired events %+v; want reason %q", ev, want)
	}
	roster, _ := e.mod.Members(group)
	if got := subjects(roster); !slices.Equal(got, []string{"org/ns/moderator", "org/ns/alice"}) {
		t.Fatalf("roster %v", got)
	}
}

const partner = "  - name: partner\n    type: shared_secret\n    config:\n      id: org/ns/partner\n      random_suffix: false\n      data: %q\n      clock_skew: %ds\n"

func TestTrustChangeRemovesMembersOfTheOldSecret(t *testing.T) {
	commits := make(chan moderator.Outgoing, 16)
	e := newEnv(t, envOptions{brokerTokens: true, extraPlugins: fmt.Sprintf(partner, secretC, 5),
		onCommit: func(_ string, out moderator.Outgoing) { commits <- out }})
	alice := e.newCandidate("org/ns/alice")
	carol := e.candidateFrom("org/ns/carol", newMinter(t, "org/ns/carol", secretC))
	_, ms := e.admit(alice, carol)
	<-commits
	if roster, _ := e.mod.Members(group); roster[2].Provider != "partner" {
		t.Fatalf("carol was verified by %q", roster[2].Provider)
	}

	// Set before Run starts: Run records audit events from its goroutine.
	e.audit.recorded = make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.mod.Run(ctx) }()

	// Team's secret changes; partner's entry changes too, but still accepts
	// carol's token. Run may not be watching yet when the first reload
	// lands, so reload again (with another clock skew) until it has
	// reacted to both.
	var removal, renewal moderator.Outgoing
	carolReverified := func() bool {
		ev := e.audit.of(audit.Reverified)
		return slices.ContainsFunc(ev, func(ev audit.Event) bool { return ev.Subject == "org/ns/carol" })
	}
	for skew := 6; removal.Epoch == 0 || renewal.Epoch == 0 || !carolReverified(); skew++ {
		if _, err := e.broker.Reload(ctx, parseBroker(t, brokerYAML(secretB, false, fmt.Sprintf(partner, secretC, skew)))); err != nil {
			t.Fatal(err)
		}
		select {
		case out := <-commits:
			if slices.Equal(out.Removed, []string{"org/ns/alice"}) {
				removal = out
			} else {
				renewal = out
			}
		case <-e.audit.recorded:
		case <-time.After(200 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if renewal.Reason != "moderator credential: trust change" || renewal.Epoch != removal.Epoch+1 {
		t.Fatalf("removal at %d, renewal %+v", removal.Epoch, renewal)
	}
	if evs, err := ms[0].Receive(removal.Messages[0]); err != nil || evs[0].Kind != member.Removed {
		t.Fatalf("alice: %v %+v", err, evs)
	}
	deliver(t, &removal, ms[1])
	deliver(t, &renewal, ms[1])
	e.converged(ms[1])

	removed := e.audit.of(audit.Removed)
	want := "trust change: credential refused: plugin(team): shared-secret token: MAC does not match (another secret, or the token was altered)"
	if len(removed) != 1 || removed[0].Subject != "org/ns/alice" || removed[0].Reason != want || removed[0].Provider != "team" {
		t.Fatalf("removed events %+v\nwant reason %q", removed, want)
	}
	roster, _ := e.mod.Members(group)
	if got := subjects(roster); !slices.Equal(got, []string{"org/ns/moderator", "org/ns/carol"}) {
		t.Fatalf("roster %v", got)
	}
}
