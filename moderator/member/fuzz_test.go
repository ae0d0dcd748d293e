package member_test

import (
	"errors"
	"testing"

	"github.com/slimid/slimid/moderator/member"
	"github.com/slimid/slimid/moderator/mls"
)

// The seed corpus (testdata/fuzz) holds real messages of every wire format:
// commits, an Update proposal, an application message, a Welcome and a key
// package.

func FuzzReceive(f *testing.F) {
	mod := moderated(f)
	alice, _ := admit(f, mod, "org/ns/alice")
	state, err := alice.State()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		m, err := member.Restore(state)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Receive(msg); err != nil && errors.Is(err, mls.ErrDamaged) {
			t.Fatalf("hostile input damaged the group: %v", err)
		}
	})
}
