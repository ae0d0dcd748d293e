package moderator_test

import (
	"context"
	"slices"
	"testing"

	"github.com/slimid/slimid/moderator/audit"
)

func TestAdmitThreeInOneCommit(t *testing.T) {
	e := newEnv(t, envOptions{})
	res, members := e.admit(e.newCandidate("org/ns/alice"), e.newCandidate("org/ns/bob"), e.newCandidate("org/ns/carol"))
	if res.Epoch != 1 || len(res.Admitted) != 3 {
		t.Fatalf("epoch %d, admitted %d; want 1 and 3", res.Epoch, len(res.Admitted))
	}
	if want := []string{"org/ns/alice", "org/ns/bob", "org/ns/carol"}; !slices.Equal(res.Commit.WelcomeTo, want) || len(res.Commit.To) != 0 {
		t.Fatalf("commit to %v, welcome to %v; want nobody and %v", res.Commit.To, res.Commit.WelcomeTo, want)
	}
	e.converged(members...)
	roster, err := e.mod.Members(group)
	if err != nil {
		t.Fatal(err)
	}
	if got := subjects(roster); !slices.Equal(got, []string{"org/ns/moderator", "org/ns/alice", "org/ns/bob", "org/ns/carol"}) {
		t.Fatalf("roster %v", got)
	}
	if got := e.audit.of(audit.Admitted); len(got) != 3 || got[0].Subject != "org/ns/alice" || got[0].Epoch != 1 || got[0].Provider != "team" || got[0].CredentialType != "basic" {
		t.Fatalf("admitted events %+v", got)
	}

	// A message from one member reaches the others and the moderator.
	msg, err := members[0].Send([]byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members[1:] {
		evs, err := m.Receive(msg)
		if err != nil || len(evs) != 1 || string(evs[0].Data) != "hello" {
			t.Fatalf("receive: %v %+v", err, evs)
		}
	}
	got, err := e.mod.HandleMessage(context.Background(), group, msg)
	if err != nil || string(got.Data) != "hello" || got.Sender != "org/ns/alice" {
		t.Fatalf("moderator received %+v, %v", got, err)
	}

	// A later admission reaches the existing members as a commit; after a
	// restart the roster and epoch are the same.
	res2, dave := e.admit(e.newCandidate("org/ns/dave"))
	deliver(t, res2.Commit, members...)
	e.reopen()
	e.converged(append(members, dave...)...)
}
