package mls_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/slimid/slimid/moderator/mls"
)

// A bundle saved after sending its key package joins from the Welcome after
// a restore, in every suite.
func TestKeyPackageBundleRoundTrip(t *testing.T) {
	for _, suite := range suites {
		t.Run(suite.String(), func(t *testing.T) {
			mod := newModerator(t, suite)
			bundle := newBundle(t, suite, "alice")
			saved, err := bundle.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			kp, err := mls.DecodeKeyPackage(bundle.KeyPackage().Bytes())
			if err != nil {
				t.Fatal(err)
			}
			c, err := mod.AddMembers(kp)
			if err != nil {
				t.Fatal(err)
			}
			restored, err := mls.RestoreKeyPackageBundle(saved)
			if err != nil {
				t.Fatalf("restore: %v", err)
			}
			if restored.KeyPackage().Ref() != bundle.KeyPackage().Ref() || !bytes.Equal(restored.Signer().PublicKey(), bundle.Signer().PublicKey()) {
				t.Fatal("restored bundle differs")
			}
			g, err := mls.JoinGroup(c.Welcome, restored)
			if err != nil {
				t.Fatalf("join with the restored bundle: %v", err)
			}
			if !bytes.Equal(g.EpochAuthenticator(), mod.EpochAuthenticator()) {
				t.Fatal("joined a different epoch")
			}
		})
	}
}

// Private keys that do not belong to the key package are refused.
func TestKeyPackageBundleRefusesMismatchedKeys(t *testing.T) {
	suite := mls.SuiteX25519AES128GCM
	a, err := newBundle(t, suite, "alice").Marshal()
	if err != nil {
		t.Fatal(err)
	}
	b, err := newBundle(t, suite, "bob").Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var sa, sb map[string]any
	_ = json.Unmarshal(a, &sa)
	_ = json.Unmarshal(b, &sb)
	for field, want := range map[string]string{
		"signer":   "mls state: the signature key does not belong to the key package",
		"init_key": "mls state: the init key does not belong to the key package",
		"enc_key":  "mls state: the encryption key does not belong to the key package",
	} {
		mixed := map[string]any{}
		for k, v := range sa {
			mixed[k] = v
		}
		mixed[field] = sb[field]
		raw, _ := json.Marshal(mixed)
		_, err := mls.RestoreKeyPackageBundle(raw)
		if !errors.Is(err, mls.ErrState) || err.Error() != want {
			t.Errorf("%s from another bundle: %v; want %q", field, err, want)
		}
	}
	if _, err := mls.RestoreKeyPackageBundle([]byte("{")); !errors.Is(err, mls.ErrState) {
		t.Errorf("garbage: %v", err)
	}
}
