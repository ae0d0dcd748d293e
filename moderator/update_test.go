package moderator_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/audit"
	"github.com/slimid/slimid/moderator/member"
	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/sdk"
)

// kinds lists event kinds.
func kinds(evs []member.Event) []member.EventKind {
	out := make([]member.EventKind, len(evs))
	for i, e := range evs {
		out[i] = e.Kind
	}
	return out
}

// receiveAll delivers messages to a member and returns the event kinds.
func receiveAll(t *testing.T, m *member.Member, msgs [][]byte) []member.EventKind {
	t.Helper()
	var out []member.EventKind
	for _, msg := range msgs {
		evs, err := m.Receive(msg)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, kinds(evs)...)
	}
	return out
}

func TestUpdateRenewedTokenIsCommitted(t *testing.T) {
	for _, tc := range []struct {
		name   string
		newKey bool
	}{{"same key", false}, {"new key", true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			alice, bob := e.newCandidate("org/ns/alice"), e.newCandidate("org/ns/bob")
			_, ms := e.admit(alice, bob)
			before, _ := e.mod.Members(group)

			signer := alice.cred.Signer
			if tc.newKey {
				signer = signerFor(t, e.suite)
			}
			next, err := member.FetchToken(context.Background(), alice.minter, "", signer, nil)
			if err != nil {
				t.Fatal(err)
			}
			proposal, err := ms[0].Rotate(next)
			if err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(time.Minute)
			got, err := e.mod.HandleMessage(context.Background(), group, proposal)
			if err != nil {
				t.Fatal(err)
			}
			out := got.Commit
			if got.Kind != mls.KindProposal || got.Sender != "org/ns/alice" || out.Epoch != 2 || len(out.Messages) != 2 || !slices.Equal(out.To, []string{"org/ns/alice", "org/ns/bob"}) {
				t.Fatalf("received %+v, commit %+v", got, out)
			}
			if k := receiveAll(t, ms[0], out.Messages); !slices.Equal(k, []member.EventKind{member.Duplicate, member.Commit, member.Rotated}) {
				t.Fatalf("alice: %v", k)
			}
			if k := receiveAll(t, ms[1], out.Messages); !slices.Equal(k, []member.EventKind{member.Proposal, member.Commit}) {
				t.Fatalf("bob: %v", k)
			}
			e.converged(ms...)
			after, _ := e.mod.Members(group)
			if !slices.Equal(after[1].SignatureKey, signer.PublicKey()) || !after[1].VerifiedAt.After(before[1].VerifiedAt) || after[1].JoinedEpoch != 1 {
				t.Fatalf("roster entry after the update: %+v", after[1])
			}
			if ev := e.audit.of(audit.Updated); len(ev) != 1 || ev[0].Subject != "org/ns/alice" || ev[0].Epoch != 2 {
				t.Fatalf("updated events %+v", ev)
			}
			// The new credential is in force: alice can send again.
			msg, err := ms[0].Send([]byte("renewed"))
			if err != nil {
				t.Fatal(err)
			}
			if evs, err := ms[1].Receive(msg); err != nil || string(evs[0].Data) != "renewed" {
				t.Fatalf("%v %+v", err, evs)
			}
		})
	}
}

func TestUpdateWithAnotherSubjectIsRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, ms := e.admit(e.newCandidate("org/ns/alice"), e.newCandidate("org/ns/bob"))
	signer := signerFor(t, e.suite)
	next, err := member.FetchToken(context.Background(), newMinter(t, "org/ns/mallory", secretA), "", signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	proposal, err := ms[0].Rotate(next)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.mod.HandleMessage(context.Background(), group, proposal)
	want := `moderator: group "org/ns/channel": the Update from "org/ns/alice" carries a credential for "org/ns/mallory"; a successor must keep the subject`
	if err == nil || err.Error() != want || !errors.Is(err, moderator.ErrSuccessor) || !errors.Is(err, sdk.ErrRejected) {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	ev := e.audit.of(audit.UpdateRefused)
	if len(ev) != 1 || ev[0].Subject != "org/ns/alice" || ev[0].Epoch != 1 || ev[0].Reason != want[len(`moderator: group "org/ns/channel": `):] {
		t.Fatalf("update_refused events %+v", ev)
	}
	if info, _ := e.mod.Group(group); info.Epoch != 1 {
		t.Fatalf("epoch %d after a refused Update; want 1", info.Epoch)
	}
	// The next commit reaches everyone; alice's dead proposal is offered
	// again, and refused again.
	res, carol := e.admit(e.newCandidate("org/ns/carol"))
	evs, err := ms[0].Receive(res.Commit.Messages[0])
	if err != nil || !slices.Equal(kinds(evs), []member.EventKind{member.Commit, member.Repropose}) {
		t.Fatalf("alice: %v %v", err, kinds(evs))
	}
	deliver(t, res.Commit, ms[1])
	e.converged(append(ms, carol...)...)
	if _, err := e.mod.HandleMessage(context.Background(), group, evs[1].Data); !errors.Is(err, moderator.ErrSuccessor) {
		t.Fatalf("second proposal: %v", err)
	}
}

func TestMemberCommitIsRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	// A commit made by another group's committer still says "commit" in
	// its clear header, which is all the moderator needs to refuse it.
	other := newEnv(t, envOptions{})
	res, _ := other.admit(other.newCandidate("org/ns/alice"))
	_, err := e.mod.HandleMessage(context.Background(), group, res.Commit.Messages[0])
	want := `moderator: group "org/ns/channel": a commit from leaf 0 was refused: members propose, only the moderator commits`
	if err == nil || err.Error() != want || !errors.Is(err, moderator.ErrMemberCommit) {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

// watchSource hands WatchRotation the tokens sent on its channel.
type watchSource struct {
	*minter
	tokens chan sdk.Token
}

func (w *watchSource) WatchToken(ctx context.Context, _ string, _ sdk.TokenRequest, send func(sdk.Token) error) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case tok := <-w.tokens:
			if err := send(tok); err != nil {
				return err
			}
		}
	}
}

func TestWatchRotationRenewsPastHalfLife(t *testing.T) {
	e := newEnv(t, envOptions{})
	alice := e.newCandidate("org/ns/alice")
	// Alice's credential is, as far as she knows, 40 minutes into an hour.
	alice.cred.IssuedAt = time.Now().Add(-40 * time.Minute)
	alice.cred.ExpiresAt = alice.cred.IssuedAt.Add(time.Hour)
	_, ms := e.admit(alice, e.newCandidate("org/ns/bob"))

	src := &watchSource{minter: alice.minter, tokens: make(chan sdk.Token)}
	commits := make(chan *moderator.Outgoing, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ms[0].WatchRotation(ctx, src, member.Rotation{Send: func(ctx context.Context, p []byte) error {
			got, err := e.mod.HandleMessage(ctx, group, p)
			if err == nil {
				commits <- got.Commit
			}
			return err
		}})
	}()
	// A token that expires no later than the credential in force is not
	// used; the next one is.
	stale, err := alice.minter.FetchToken(ctx, "", sdk.TokenRequest{PublicKey: alice.cred.Signer.PublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	stale.ExpiresAt = alice.cred.ExpiresAt
	src.tokens <- stale
	fresh, err := alice.minter.FetchToken(ctx, "", sdk.TokenRequest{PublicKey: alice.cred.Signer.PublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	src.tokens <- fresh
	out := <-commits
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	deliver(t, out, ms...)
	e.converged(ms...)
	if got := ms[0].Credential(); string(got.Credential.Identity()) != fresh.Value {
		t.Fatalf("credential in force is not the fresh token")
	}
}
