package member_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/slimid/slimid/moderator/member"
	"github.com/slimid/slimid/moderator/mls"
)

// The seed corpus (testdata/fuzz) holds real messages of every wire format:
// commits, an Update proposal, an application message, a Welcome and a key
// package.

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{0, 1, 0, 1})
	f.Fuzz(func(t *testing.T, msg []byte) {
		h, err := member.ParseHeader(msg)
		if err != nil {
			if !errors.Is(err, member.ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if !bytes.HasPrefix(msg, []byte{0, 1}) {
			t.Fatalf("accepted a message that is not MLS 1.0: %x", msg[:min(len(msg), 4)])
		}
		if len(h.GroupID) > len(msg) {
			t.Fatalf("group ID longer than the message")
		}
	})
}

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
