package spire

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/slimid/slimid/sdk"
)

// testCA issues X.509-SVIDs for one trust domain.
type testCA struct {
	td   string
	cert *x509.Certificate
	key  crypto.Signer
}

func newTestCA(t testing.TB, td string) testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"SPIFFE"}},
		URIs:                  []*url.URL{{Scheme: "spiffe", Host: td}},
		NotBefore:             testNow.Add(-time.Hour),
		NotAfter:              testNow.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testCA{td: td, cert: cert, key: key}
}

// leaf issues an SVID for path with pub; uri "" leaves the URI SAN out.
func (ca testCA) leaf(t testing.TB, uri string, pub crypto.PublicKey, notBefore, notAfter time.Time) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
	}
	if uri != "" {
		u, err := url.Parse(uri)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = []*url.URL{u}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func (ca testCA) bundle() *x509bundle.Bundle {
	return x509bundle.FromX509Authorities(spiffeid.RequireTrustDomainFromString(ca.td), []*x509.Certificate{ca.cert})
}

func TestVerifyChain(t *testing.T) {
	ca := newTestCA(t, "example.org")
	impostor := newTestCA(t, "example.org")
	other := newTestCA(t, "other.test")
	bundles := x509bundle.NewSet(ca.bundle())

	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	from, until := testNow.Add(-time.Minute), testNow.Add(time.Hour)
	id := "spiffe://example.org/workload"

	ecLeaf := ca.leaf(t, id, &ecKey.PublicKey, from, until)
	got, err := verifyChain([]*x509.Certificate{ecLeaf}, bundles, testNow)
	if err != nil {
		t.Fatalf("verifyChain(P-256 SVID): %v", err)
	}
	wantKey, _ := ecKey.PublicKey.ECDH()
	if got.Subject != id || got.Issuer != "spiffe://example.org" || string(got.PublicKey) != string(wantKey.Bytes()) ||
		len(got.PublicKey) != 65 || got.PublicKey[0] != 4 || !got.ExpiresAt.Equal(until) {
		t.Fatalf("identity = %+v; want %s with its 65-byte uncompressed key", got, id)
	}

	edLeaf := ca.leaf(t, id, edPub, from, until)
	if got, err := verifyChain([]*x509.Certificate{edLeaf}, bundles, testNow); err != nil || string(got.PublicKey) != string(edPub) {
		t.Fatalf("verifyChain(Ed25519 SVID) = %x, %v; want the 32 raw key bytes", got.PublicKey, err)
	}

	for _, tc := range []struct {
		name  string
		chain []*x509.Certificate
		at    time.Time
		want  error
		msg   string
	}{
		{"empty chain", nil, testNow, sdk.ErrInvalid, "spire: empty certificate chain"},
		{"no SPIFFE ID", []*x509.Certificate{ca.leaf(t, "", &ecKey.PublicKey, from, until)}, testNow, sdk.ErrInvalid,
			"spire: the leaf certificate is not an X.509-SVID: certificate contains no URI SAN"},
		{"another trust domain", []*x509.Certificate{other.leaf(t, "spiffe://other.test/w", &ecKey.PublicKey, from, until)}, testNow, sdk.ErrUntrusted,
			"spire: spiffe://other.test/w belongs to trust domain other.test, which the SPIRE agent does not trust"},
		{"another CA of the same trust domain", []*x509.Certificate{impostor.leaf(t, id, &ecKey.PublicKey, from, until)}, testNow, sdk.ErrUntrusted, ""},
		{"expired", []*x509.Certificate{ecLeaf}, until.Add(time.Second), sdk.ErrExpired, ""},
		{"not yet valid", []*x509.Certificate{ecLeaf}, from.Add(-time.Second), sdk.ErrNotYetValid, ""},
		{"RSA key", []*x509.Certificate{ca.leaf(t, id, &rsaKey.PublicKey, from, until)}, testNow, sdk.ErrPolicy,
			"spire: spiffe://example.org/workload: leaf key type *rsa.PublicKey has no MLS signature scheme: issue EC P-256 or Ed25519 SVIDs"},
		{"CA as leaf", []*x509.Certificate{ca.cert}, testNow, sdk.ErrInvalid, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := verifyChain(tc.chain, bundles, tc.at)
			if !errors.Is(err, tc.want) {
				t.Fatalf("verifyChain = %v; want %v", err, tc.want)
			}
			if tc.msg != "" && err.Error() != tc.msg {
				t.Fatalf("error:\n got %s\nwant %s", err, tc.msg)
			}
		})
	}
}
