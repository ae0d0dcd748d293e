package mls_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/slimid/slimid/moderator/mls"
)

// roundTrip saves and restores a group.
func roundTrip(t testing.TB, g *mls.Group) *mls.Group {
	t.Helper()
	state, err := g.State()
	if err != nil {
		t.Fatalf("saving leaf %d: %v", g.OwnLeaf(), err)
	}
	r, err := mls.RestoreGroup(state)
	if err != nil {
		t.Fatalf("restoring leaf %d: %v", g.OwnLeaf(), err)
	}
	return r
}

func TestStateRoundTripMidLife(t *testing.T) {
	for _, suite := range suites {
		t.Run(suite.String(), func(t *testing.T) {
			mod := newModerator(t, suite)
			joined := addAndJoin(t, mod, nil, "alice", "bob", "carol")
			alice, bob, carol := joined[0], joined[1], joined[2]
			requireTalk(t, alice, mod, bob, carol)

			// Alice's Update is pending at every member when all of them are saved.
			newCred := basicCredential(t, "alice, renewed")
			newKey := newSigner(t, suite)
			proposal, err := alice.ProposeUpdate(newKey, newCred)
			if err != nil {
				t.Fatalf("propose update: %v", err)
			}
			for _, g := range []*mls.Group{mod, bob, carol} {
				if _, err := g.Process(proposal); err != nil {
					t.Fatalf("leaf %d processing the update: %v", g.OwnLeaf(), err)
				}
			}
			mod, alice, bob, carol = roundTrip(t, mod), roundTrip(t, alice), roundTrip(t, bob), roundTrip(t, carol)
			if n := len(mod.PendingUpdates()); n != 1 {
				t.Fatalf("restored moderator has %d pending updates, want 1", n)
			}
			c, err := mod.CommitPending()
			if err != nil {
				t.Fatalf("committing the restored pending update: %v", err)
			}
			deliver(t, c.Message, alice, bob, carol)
			all := []*mls.Group{mod, alice, bob, carol}
			requireInSync(t, all...)
			requireTalk(t, alice, mod, bob, carol)

			// Alice's leaf key now differs from mls-go's copy; it must survive
			// a save for the next commit to decrypt.
			alice = roundTrip(t, alice)
			c, err = mod.AddMembers(newBundle(t, suite, "dave").KeyPackage())
			if err != nil {
				t.Fatalf("adding dave: %v", err)
			}
			deliver(t, c.Message, alice, bob, carol)
			c, err = mod.RemoveMembers(bob.OwnLeaf())
			if err != nil {
				t.Fatalf("removing bob: %v", err)
			}
			deliver(t, c.Message, alice, carol)
			all = []*mls.Group{roundTrip(t, mod), roundTrip(t, alice), roundTrip(t, carol)}
			requireInSync(t, all...)
			requireTalk(t, all[1], all[0], all[2])
			requireTalk(t, all[0], all[1], all[2])
		})
	}
}

func TestStateKeepsRemoval(t *testing.T) {
	mod := newModerator(t, mls.SuiteX25519AES128GCM)
	bob := addAndJoin(t, mod, nil, "bob")[0]
	c, err := mod.RemoveMembers(bob.OwnLeaf())
	if err != nil {
		t.Fatalf("remove: %v", err)
	}
	if m, err := bob.Process(c.Message); err != nil || !m.Removed {
		t.Fatalf("bob processing removal: %v", err)
	}
	if _, err := roundTrip(t, bob).Encrypt([]byte("x")); !errors.Is(err, mls.ErrRemoved) {
		t.Fatalf("restored removed member encrypting: %v, want ErrRemoved", err)
	}
}

func TestRestoreRefusesBadState(t *testing.T) {
	mod := newModerator(t, mls.SuiteX25519AES128GCM)
	state, err := mod.State()
	if err != nil {
		t.Fatalf("state: %v", err)
	}
	tests := []struct {
		name  string
		state string
		want  string
	}{
		{"not json", "not json", "mls state: not a saved group: invalid character 'o' in literal null (expecting 'u')"},
		{"future format", strings.Replace(string(state), `"format":1`, `"format":2`, 1), "mls state: format 2 is not supported (want 1)"},
		{"unsupported suite", strings.Replace(string(state), `"suite":1`, `"suite":5`, 1), "mls state: mls: unsupported ciphersuite 0x0005: use 0x0001, 0x0002 or 0x0003"},
		{"suite mismatch", strings.Replace(string(state), `"suite":1`, `"suite":3`, 1), "mls state: the group uses ciphersuite 0x0001, the saved suite is 0x0003"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mls.RestoreGroup([]byte(tt.state))
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got error %v, want %q", err, tt.want)
			}
			if !errors.Is(err, mls.ErrState) {
				t.Fatalf("error %v does not wrap ErrState", err)
			}
		})
	}
}
