package mls_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/thomas-vilte/mls-go/credentials"
	"github.com/thomas-vilte/mls-go/keypackages"

	"github.com/slimid/slimid/moderator/mls"
)

// testCA is a root and an intermediate CA issuing SPIFFE-style leaves.
type testCA struct {
	roots        *x509.CertPool
	intermediate *x509.Certificate
	interKey     *ecdsa.PrivateKey
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	rootKey := p256Key(t)
	root := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test root"},
		NotBefore:             testNow.Add(-time.Hour),
		NotAfter:              testNow.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, root, root, rootKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	rootCert, _ := x509.ParseCertificate(rootDER)
	interKey := p256Key(t)
	inter := &x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               pkix.Name{CommonName: "test intermediate"},
		NotBefore:             testNow.Add(-time.Hour),
		NotAfter:              testNow.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	interDER, err := x509.CreateCertificate(rand.Reader, inter, rootCert, interKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	interCert, _ := x509.ParseCertificate(interDER)
	roots := x509.NewCertPool()
	roots.AddCert(rootCert)
	return &testCA{roots: roots, intermediate: interCert, interKey: interKey}
}

// issue returns the chain [leaf, intermediate] for pub, with a spiffe:// URI
// SAN and the given validity.
func (ca *testCA) issue(t testing.TB, pub crypto.PublicKey, spiffeID string, notBefore, notAfter time.Time) [][]byte {
	t.Helper()
	id, err := url.Parse(spiffeID)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		URIs:         []*url.URL{id},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca.intermediate, pub, ca.interKey)
	if err != nil {
		t.Fatal(err)
	}
	return [][]byte{der, ca.intermediate.Raw}
}

func (ca *testCA) credential(t testing.TB, pub crypto.PublicKey, spiffeID string) mls.Credential {
	t.Helper()
	cred, err := mls.NewX509Credential(ca.issue(t, pub, spiffeID, testNow.Add(-time.Minute), testNow.Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func p256Key(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestX509KeyPackage(t *testing.T) {
	ca := newTestCA(t)
	// The key stands in for a SPIRE X.509-SVID key: EC P-256, suite 0x0002.
	svidKey := p256Key(t)
	signer, err := mls.NewSigner(mls.SuiteP256AES128GCM, svidKey)
	if err != nil {
		t.Fatalf("wrapping the SVID key: %v", err)
	}
	const id = "spiffe://example.org/agent-a"
	b, err := mls.NewKeyPackage(signer, ca.credential(t, svidKey.Public(), id), dayLifetime())
	if err != nil {
		t.Fatalf("x509 key package: %v", err)
	}
	kp, err := mls.DecodeKeyPackage(b.KeyPackage().Bytes())
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if kp.CredentialType() != mls.CredentialX509 || kp.Identity() != nil {
		t.Fatalf("decoded credential type %v", kp.CredentialType())
	}
	certs := kp.Certificates()
	if len(certs) != 2 || len(certs[0].URIs) != 1 || certs[0].URIs[0].String() != id {
		t.Fatalf("decoded chain does not carry the SPIFFE ID")
	}
	inter := x509.NewCertPool()
	inter.AddCert(certs[1])
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: ca.roots, Intermediates: inter, CurrentTime: testNow, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("decoded chain does not verify against the CA: %v", err)
	}
	if !bytes.Equal(kp.SignatureKey(), signer.PublicKey()) {
		t.Fatalf("signature key differs from the SVID key")
	}
	if err := kp.Validate(mls.Requirements{Suite: mls.SuiteP256AES128GCM, Now: testNow}); err != nil {
		t.Fatalf("validate: %v", err)
	}
	stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	future := testNow.Add(2 * time.Hour)
	err = kp.Validate(mls.Requirements{Suite: mls.SuiteP256AES128GCM, Now: future})
	want := "key package: the x509 leaf certificate is valid from " + stamp(testNow.Add(-time.Minute)) + " to " + stamp(testNow.Add(time.Hour)) + ", not at " + stamp(future)
	if err == nil || err.Error() != want {
		t.Fatalf("expired certificate: got %v\nwant %q", err, want)
	}
	if _, err := mls.NewKeyPackage(signer, ca.credential(t, p256Key(t).Public(), id), dayLifetime()); err == nil ||
		err.Error() != "mls: key package: the x509 leaf certificate does not hold the signer's public key" {
		t.Fatalf("certificate for another key: %v", err)
	}
}

func TestX509CertificateForAnotherKey(t *testing.T) {
	ca := newTestCA(t)
	signer, key := ed25519Signer(t)
	b, err := mls.NewKeyPackage(signer, ca.credential(t, key.Public(), "spiffe://example.org/a"), dayLifetime())
	if err != nil {
		t.Fatalf("ed25519 x509 key package: %v", err)
	}
	otherPub, _, _ := ed25519.GenerateKey(rand.Reader)
	forged := resign(t, b.KeyPackage().BareBytes(), key, true, func(kp *keypackages.KeyPackage) {
		kp.LeafNode.Credential = credentials.NewX509Credential(ca.issue(t, otherPub, "spiffe://example.org/b", testNow.Add(-time.Minute), testNow.Add(time.Hour)))
	})
	kp, err := mls.DecodeKeyPackage(forged)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	err = kp.Validate(mls.Requirements{Suite: mls.SuiteX25519AES128GCM, Now: testNow})
	if want := "key package: the x509 leaf certificate does not hold the signature key"; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}

func TestX509Members(t *testing.T) {
	ca := newTestCA(t)
	modKey := p256Key(t)
	modSigner, err := mls.NewSigner(mls.SuiteP256AES128GCM, modKey)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := mls.CreateGroup([]byte("org/ns/x509"), modSigner, ca.credential(t, modKey.Public(), "spiffe://example.org/moderator"))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	aliceKey := p256Key(t)
	aliceSigner, _ := mls.NewSigner(mls.SuiteP256AES128GCM, aliceKey)
	ab, err := mls.NewKeyPackage(aliceSigner, ca.credential(t, aliceKey.Public(), "spiffe://example.org/alice"), dayLifetime())
	if err != nil {
		t.Fatal(err)
	}
	bb := newBundle(t, mls.SuiteP256AES128GCM, "bob-token")
	for _, b := range []*mls.KeyPackageBundle{ab, bb} {
		if err := mod.ValidateKeyPackage(b.KeyPackage(), testNow); err != nil {
			t.Fatalf("validate: %v", err)
		}
	}
	c, err := mod.AddMembers(ab.KeyPackage(), bb.KeyPackage())
	if err != nil {
		t.Fatalf("add: %v", err)
	}
	alice, err := mls.JoinGroup(c.Welcome, ab)
	if err != nil {
		t.Fatalf("alice join: %v", err)
	}
	bob, err := mls.JoinGroup(c.Welcome, bb)
	if err != nil {
		t.Fatalf("bob join: %v", err)
	}
	requireInSync(t, mod, alice, bob)
	requireTalk(t, alice, mod, bob)

	// Alice's SVID rotates with a new key: she proposes an Update with both.
	newKey := p256Key(t)
	newSigner, _ := mls.NewSigner(mls.SuiteP256AES128GCM, newKey)
	newCred := ca.credential(t, newKey.Public(), "spiffe://example.org/alice")
	proposal, err := alice.ProposeUpdate(newSigner, newCred)
	if err != nil {
		t.Fatalf("alice update: %v", err)
	}
	for _, g := range []*mls.Group{mod, bob} {
		if _, err := g.Process(proposal); err != nil {
			t.Fatalf("processing alice's update: %v", err)
		}
	}
	c, err = mod.CommitPending()
	if err != nil {
		t.Fatalf("commit update: %v", err)
	}
	deliver(t, c.Message, alice, bob)
	requireInSync(t, mod, alice, bob)
	if m, _ := bob.Member(alice.OwnLeaf()); !m.Credential.Equal(newCred) || !bytes.Equal(m.SignatureKey, newSigner.PublicKey()) {
		t.Fatalf("bob does not see alice's new certificate and key")
	}
	requireTalk(t, alice, mod, bob)

	// The moderator renews its certificate for the same key; a certificate
	// for a new key cannot travel in its own commit.
	if _, err := mod.UpdateCredential(ca.credential(t, p256Key(t).Public(), "spiffe://example.org/moderator")); err == nil ||
		err.Error() != "mls: the committer's new x509 credential must hold its current signature key (mls-go cannot change a committer's key)" {
		t.Fatalf("committer key change: %v", err)
	}
	expired, err := mls.NewX509Credential(ca.issue(t, modKey.Public(), "spiffe://example.org/moderator", testNow.Add(-2*time.Hour), testNow.Add(-time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	if _, err := mod.UpdateCredential(expired); err == nil ||
		err.Error() != "mls: the committer's new x509 certificate is valid from "+stamp(testNow.Add(-2*time.Hour))+" to "+stamp(testNow.Add(-time.Hour))+", not now" {
		t.Fatalf("expired committer certificate: %v", err)
	}
	renewed := ca.credential(t, modKey.Public(), "spiffe://example.org/moderator")
	c, err = mod.UpdateCredential(renewed)
	if err != nil {
		t.Fatalf("moderator renewal: %v", err)
	}
	requireNoCommitterUpdate(t, c.Message)
	deliver(t, c.Message, alice, bob)
	requireInSync(t, mod, alice, bob)
	if m, _ := alice.Member(mod.OwnLeaf()); !m.Credential.Equal(renewed) {
		t.Fatalf("alice does not see the moderator's renewed certificate")
	}
}
