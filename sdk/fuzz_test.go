package sdk_test

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/jwtverify"
	identityv1 "github.com/slimid/slimid/sdk/proto/identity/v1"
)

// What a plugin sends is untrusted: an external plugin is another process,
// and a buggy or hostile one may send any bytes. The conversions must never
// panic, and what they accept must survive a trip back over the wire. The
// seeds are in testdata/fuzz/<target>, named after their case.

// FuzzIdentityFromWire: a verified identity as a plugin sends it.
func FuzzIdentityFromWire(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		w := &identityv1.Identity{}
		if proto.Unmarshal(raw, w) != nil {
			return
		}
		id, err := sdk.IdentityFromWire(w)
		if err != nil {
			oneLine(t, err)
			return
		}
		back, err := sdk.IdentityToWire(id)
		if err != nil {
			t.Fatalf("an identity taken from the wire cannot go back: %v", err)
		}
		again, err := sdk.IdentityFromWire(wireTrip(t, back))
		if err != nil {
			t.Fatalf("an identity sent back does not convert again: %v", err)
		}
		if !sameIdentity(id, again) {
			t.Fatalf("identity changed over the wire:\n%+v\n%+v", id, again)
		}
	})
}

// FuzzKeySnapshotFromWire: the keys a plugin publishes, which the broker
// compiles into its in-process verifier.
func FuzzKeySnapshotFromWire(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		w := &identityv1.KeySnapshot{}
		if proto.Unmarshal(raw, w) != nil {
			return
		}
		snap := sdk.KeySnapshotFromWire(w)
		back := sdk.KeySnapshotToWire(snap)
		if again := sdk.KeySnapshotToWire(sdk.KeySnapshotFromWire(wireTrip(t, back))); !proto.Equal(back, again) {
			t.Fatalf("snapshot changed over the wire:\n%v\n%v", back, again)
		}
		if _, err := jwtverify.New(snap); err != nil {
			oneLine(t, err)
		}
	})
}

// FuzzX509SVIDFromWire: the workload's X.509-SVID as a plugin sends it.
func FuzzX509SVIDFromWire(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		w := &identityv1.FetchX509SVIDResponse{}
		if proto.Unmarshal(raw, w) != nil {
			return
		}
		svid, err := sdk.X509SVIDFromWire(w)
		if err != nil {
			oneLine(t, err)
			return
		}
		back, err := sdk.X509SVIDToWire(svid)
		if err != nil {
			t.Fatalf("an SVID taken from the wire cannot go back: %v", err)
		}
		again, err := sdk.X509SVIDFromWire(wireTrip(t, back))
		if err != nil {
			t.Fatalf("an SVID sent back does not convert again: %v", err)
		}
		if !sameSVID(svid, again) {
			t.Fatal("SVID changed over the wire")
		}
	})
}

// wireTrip marshals m and unmarshals it into a new message of its type.
func wireTrip[M proto.Message](t *testing.T, m M) M {
	t.Helper()
	raw, err := proto.Marshal(m)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	out := m.ProtoReflect().New().Interface().(M)
	if err := proto.Unmarshal(raw, out); err != nil {
		t.Fatalf("unmarshal what was marshalled: %v", err)
	}
	return out
}

func oneLine(t *testing.T, err error) {
	t.Helper()
	if strings.ContainsAny(err.Error(), "\r\n") {
		t.Fatalf("error spans several lines: %q", err)
	}
}

// sameIdentity compares identities, taking empty and nil as equal (the
// wire cannot tell them apart).
func sameIdentity(a, b sdk.Identity) bool {
	return a.Subject == b.Subject && a.Issuer == b.Issuer && slices.Equal(a.Audiences, b.Audiences) &&
		a.IssuedAt.Equal(b.IssuedAt) && a.ExpiresAt.Equal(b.ExpiresAt) && bytes.Equal(a.PublicKey, b.PublicKey) &&
		(len(a.Claims) == 0 && len(b.Claims) == 0 || reflect.DeepEqual(a.Claims, b.Claims)) &&
		a.Provider == b.Provider && a.SingleUse == b.SingleUse
}

// sameSVID compares chains, keys and bundles.
func sameSVID(a, b sdk.X509SVID) bool {
	sameChain := func(x, y []*x509.Certificate) bool {
		return slices.EqualFunc(x, y, func(c, d *x509.Certificate) bool { return c.Equal(d) })
	}
	key, ok := a.PrivateKey.(interface{ Equal(crypto.PrivateKey) bool })
	if !ok || !key.Equal(b.PrivateKey) || !sameChain(a.Chain, b.Chain) ||
		!slices.Equal(slices.Sorted(maps.Keys(a.Bundles)), slices.Sorted(maps.Keys(b.Bundles))) {
		return false
	}
	for td, certs := range a.Bundles {
		if !sameChain(certs, b.Bundles[td]) {
			return false
		}
	}
	return true
}
