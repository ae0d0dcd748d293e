package mls_test

import (
	"errors"
	"testing"

	"github.com/thomas-vilte/mls-go/ciphersuite"
	"github.com/thomas-vilte/mls-go/credentials"
	"github.com/thomas-vilte/mls-go/keypackages"

	"github.com/slimid/slimid/moderator/mls"
)

func TestJoinRefusals(t *testing.T) {
	mod := newModerator(t, mls.SuiteX25519AES128GCM)
	invited := newBundle(t, mls.SuiteX25519AES128GCM, "alice")
	c, err := mod.AddMembers(invited.KeyPackage())
	if err != nil {
		t.Fatal(err)
	}
	stranger := newBundle(t, mls.SuiteX25519AES128GCM, "mallory")
	tests := []struct {
		name    string
		welcome []byte
		bundle  *mls.KeyPackageBundle
		want    string
	}{
		{"another key package", c.Welcome, stranger, "welcome: not addressed to key package " + stranger.KeyPackage().Ref().String()},
		{"another suite", c.Welcome, newBundle(t, mls.SuiteX25519ChaCha20Poly1305, "carol"), "welcome: ciphersuite 0x0001 does not match the key package's 0x0003"},
		{"trailing bytes", append(append([]byte(nil), c.Welcome...), 0), invited, "welcome: malformed: trailing bytes or a non-canonical encoding"},
		{"commit instead", c.Message, invited, "welcome: the MLSMessage has wire format 1, not mls_welcome (3)"},
		{"garbage", []byte{9}, invited, "welcome: not an MLS 1.0 MLSMessage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mls.JoinGroup(tt.welcome, tt.bundle)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got %v\nwant %q", err, tt.want)
			}
			if !errors.Is(err, mls.ErrWelcome) {
				t.Fatalf("%v does not wrap ErrWelcome", err)
			}
		})
	}
	alice, err := mls.JoinGroup(c.Welcome, invited)
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	requireInSync(t, mod, alice)
}

func TestRequirementsFollowMembers(t *testing.T) {
	suite := mls.SuiteP256AES128GCM
	ca := newTestCA(t)
	key := p256Key(t)
	signer, _ := mls.NewSigner(suite, key)
	x509KP, err := mls.NewKeyPackage(signer, ca.credential(t, key.Public(), "spiffe://example.org/a"), dayLifetime())
	if err != nil {
		t.Fatal(err)
	}
	// mls-go's own key packages list only the Basic credential type.
	cwk, _, err := credentials.GenerateCredentialWithKeyForCS([]byte("basic-only"), ciphersuite.CipherSuite(suite))
	if err != nil {
		t.Fatal(err)
	}
	mkp, _, err := keypackages.Generate(cwk, ciphersuite.CipherSuite(suite))
	if err != nil {
		t.Fatal(err)
	}
	basicOnly, err := mls.DecodeKeyPackage(mkp.Marshal())
	if err != nil {
		t.Fatal(err)
	}

	withBasicOnly := newModerator(t, suite)
	if _, err := withBasicOnly.AddMembers(basicOnly); err != nil {
		t.Fatal(err)
	}
	err = withBasicOnly.ValidateKeyPackage(x509KP.KeyPackage(), testNow)
	if want := "key package: credential type x509 is not supported by every member of the group"; err == nil || err.Error() != want {
		t.Fatalf("x509 joiner with a basic-only member: got %v, want %q", err, want)
	}

	withX509 := newModerator(t, suite)
	if _, err := withX509.AddMembers(x509KP.KeyPackage()); err != nil {
		t.Fatal(err)
	}
	err = withX509.ValidateKeyPackage(basicOnly, testNow)
	if want := "key package: capabilities do not list credential type x509, which members of the group use"; err == nil || err.Error() != want {
		t.Fatalf("basic-only joiner with an x509 member: got %v, want %q", err, want)
	}
	if got := withX509.Requirements(testNow).CredentialTypes; len(got) != 2 {
		t.Fatalf("credential types in use: %v, want basic and x509", got)
	}
}

func TestExportLength(t *testing.T) {
	mod := newModerator(t, mls.SuiteX25519AES128GCM)
	for _, n := range []int{0, -1, 255*32 + 1} {
		if _, err := mod.Export("l", nil, n); err == nil {
			t.Fatalf("export of %d bytes accepted", n)
		}
	}
	a, err := mod.Export("label a", nil, 16)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := mod.Export("label b", nil, 16)
	if len(a) != 16 || string(a) == string(b) {
		t.Fatalf("exporter ignores its label")
	}
}
