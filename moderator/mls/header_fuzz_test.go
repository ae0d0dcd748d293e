package mls_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/slimid/slimid/moderator/mls"
)

// The seed corpus (testdata/fuzz/FuzzParseHeader) holds real messages of
// every wire format: commits, an Update proposal, an application message, a
// Welcome and a key package.
func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{0, 1, 0, 1})
	f.Fuzz(func(t *testing.T, msg []byte) {
		h, err := mls.ParseHeader(msg)
		if err != nil {
			if !errors.Is(err, mls.ErrMalformed) {
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
