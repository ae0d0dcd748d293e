package moderator_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/slimid/slimid/broker"
	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/audit"
	"github.com/slimid/slimid/moderator/member"
	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/plugins/sharedsecret"
	"github.com/slimid/slimid/plugins/spiffehelper"
	"github.com/slimid/slimid/sdk"
)

// ca is a SPIFFE trust domain's X.509 authority.
type ca struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func newCA(t *testing.T, td string) *ca {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: td + " CA"},
		URIs:      []*url.URL{{Scheme: "spiffe", Host: td}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &ca{cert: cert, key: key}
}

// svidDir writes the files spiffe-helper writes for an X.509-SVID of id.
func (c *ca) svidDir(t *testing.T, id string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(id)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), URIs: []*url.URL{u},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, key.Public(), c.key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
	dir := t.TempDir()
	for name, block := range map[string]*pem.Block{
		"tls.crt":         {Type: "CERTIFICATE", Bytes: der},
		"tls.key":         {Type: "PRIVATE KEY", Bytes: pkcs8},
		"svid_bundle.pem": {Type: "CERTIFICATE", Bytes: c.cert.Raw},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var x509Builtins = broker.Builtins{
	sharedsecret.Name: func() sdk.Plugin { return sharedsecret.New() },
	spiffehelper.Name: func() sdk.Plugin { return spiffehelper.New() },
}

// x509Broker serves the X.509-SVID in dir through the spiffe-helper plugin
// "svid", beside extra entries.
func x509Broker(t *testing.T, dir, extra string) *broker.Broker {
	t.Helper()
	yaml := fmt.Sprintf("plugins:\n%s  - name: svid\n    type: spiffe_helper\n    config: {cert_dir: %s, jwt_audiences: [slim]}\n", extra, dir)
	cfg, err := broker.ParseConfig([]byte(yaml), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.New(context.Background(), cfg, broker.Options{Builtins: x509Builtins})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestAdmitX509SVIDMembers(t *testing.T) {
	org := newCA(t, "example.org")
	team := fmt.Sprintf("  - name: team\n    type: shared_secret\n    config: {id: org/ns/moderator, random_suffix: false, data: %q}\n", secretA)
	b := x509Broker(t, org.svidDir(t, "spiffe://example.org/moderator"), team)
	ev := &events{}
	mod, err := moderator.Open(context.Background(), moderator.Config{StateDir: t.TempDir(), Verifier: b, Tokens: b, Audit: ev})
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close()
	signer, _ := mls.GenerateSigner(mls.SuiteP256AES128GCM)
	cred, err := member.FetchToken(context.Background(), b, "team", signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mod.CreateGroup(context.Background(), moderator.GroupSpec{Name: group, Suite: mls.SuiteP256AES128GCM, Plugin: "team", Signer: signer, Credential: cred.Credential}); err != nil {
		t.Fatal(err)
	}

	svidKP := func(b *broker.Broker) (*mls.KeyPackageBundle, member.Credential) {
		t.Helper()
		cred, err := member.FetchX509(context.Background(), b, "svid")
		if err != nil {
			t.Fatal(err)
		}
		bundle, err := cred.KeyPackage()
		if err != nil {
			t.Fatal(err)
		}
		return bundle, cred
	}
	alice, aliceCred := svidKP(x509Broker(t, org.svidDir(t, "spiffe://example.org/alice"), ""))
	other := newCA(t, "example.org")
	eve, _ := svidKP(x509Broker(t, other.svidDir(t, "spiffe://example.org/eve"), ""))

	res, err := mod.Admit(context.Background(), group, alice.KeyPackage().Bytes(), eve.KeyPackage().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Admitted) != 1 || res.Admitted[0].Member.Subject != "spiffe://example.org/alice" || res.Admitted[0].Member.CredentialType != "x509" || res.Admitted[0].Member.Provider != "svid" {
		t.Fatalf("admitted %+v", res.Admitted)
	}
	if len(res.Refused) != 1 || !errors.Is(res.Refused[0].Err, sdk.ErrUntrusted) {
		t.Fatalf("refused %+v", res.Refused)
	}
	want := "certificate chain refused: plugin(svid): certificate of spiffe://example.org/eve does not chain to "
	if got := res.Refused[0].Err.Error(); len(got) < len(want) || got[:len(want)] != want {
		t.Fatalf("refusal %q\nwant prefix %q", got, want)
	}
	if r := ev.of(audit.Refused); len(r) != 1 || r[0].CredentialType != "x509" || r[0].Reason != res.Refused[0].Err.Error() {
		t.Fatalf("refused events %+v", r)
	}
	m, err := member.Join(res.Commit.Welcome, alice, aliceCred)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := mod.Group(group)
	if string(m.EpochAuthenticator()) != string(info.EpochAuthenticator) {
		t.Fatal("alice does not share the moderator's epoch authenticator")
	}
	msg, err := m.Send([]byte("from an X.509-SVID"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := mod.HandleMessage(context.Background(), group, msg); err != nil || got.Sender != "spiffe://example.org/alice" {
		t.Fatalf("%+v, %v", got, err)
	}
}
