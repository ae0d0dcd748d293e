package broker_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/url"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/slimid/slimid/broker"
	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/brokerclient"
)

// x509Plugin is a minimal X.509 identity plugin for these tests: a CA of
// its own, one SVID, and chain checks against that CA.
type x509Plugin struct {
	ca   *x509.Certificate
	leaf *x509.Certificate
	key  crypto.Signer
}

func newX509Plugin(t testing.TB) *x509Plugin {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	id, _ := url.Parse("spiffe://example.org/agent-a")
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), URIs: []*url.URL{id}, KeyUsage: x509.KeyUsageDigitalSignature,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(leafDER)
	return &x509Plugin{ca: ca, leaf: leaf, key: key}
}

func (p *x509Plugin) Info() sdk.Info { return sdk.Info{Name: "x509-test", Version: "1"} }
func (p *x509Plugin) ValidateConfig(context.Context, []byte) ([]string, error) {
	return nil, nil
}
func (p *x509Plugin) Configure(context.Context, []byte) ([]string, error) { return nil, nil }
func (p *x509Plugin) FetchX509SVID(context.Context) (sdk.X509SVID, error) {
	return sdk.X509SVID{Chain: []*x509.Certificate{p.leaf}, PrivateKey: p.key, Bundles: map[string][]*x509.Certificate{"example.org": {p.ca}}}, nil
}
func (p *x509Plugin) VerifyX509(_ context.Context, chain []*x509.Certificate, at time.Time) (sdk.Identity, error) {
	roots := x509.NewCertPool()
	roots.AddCert(p.ca)
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, CurrentTime: at}); err != nil {
		return sdk.Identity{}, sdk.Reject(sdk.ErrUntrusted, "chain: %v", err)
	}
	return sdk.Identity{Subject: chain[0].URIs[0].String(), ExpiresAt: chain[0].NotAfter}, nil
}

func TestBrokerAPIX509AndTrust(t *testing.T) {
	plugin := newX509Plugin(t)
	other := newX509Plugin(t)
	b, err := broker.New(context.Background(), parse(t, "plugins:\n  - {name: svid, type: x509}\n"+entry(t, "team", secretA, false, "")),
		broker.Options{Builtins: broker.Builtins{"x509": func() sdk.Plugin { return plugin }, "shared_secret": builtins["shared_secret"]}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	path := filepath.Join(shortDir(t), "b.sock")
	serve(t, b, path, 0o600, nil)
	c, err := brokerclient.Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	svid, err := c.FetchX509SVID(ctx, "svid")
	if err != nil {
		t.Fatal(err)
	}
	if !svid.Chain[0].Equal(plugin.leaf) || len(svid.Bundles["example.org"]) != 1 {
		t.Fatalf("SVID = %+v", svid)
	}
	id, err := c.VerifyX509(ctx, "svid", svid.Chain, time.Time{})
	if err != nil || id.Subject != "spiffe://example.org/agent-a" || id.Provider != "svid" {
		t.Fatalf("VerifyX509 = %+v, %v", id, err)
	}
	if _, err := c.VerifyX509(ctx, "svid", []*x509.Certificate{other.leaf}, time.Time{}); !errors.Is(err, sdk.ErrUntrusted) {
		t.Fatalf("chain of another CA = %v; want untrusted", err)
	}
	if _, err := c.VerifyX509(ctx, "svid", svid.Chain, time.Now().Add(2*time.Hour)); !errors.Is(err, sdk.ErrUntrusted) {
		t.Fatalf("chain verified after its expiry = %v; want refused", err)
	}

	// Verify honours At over the API.
	tok := mint(t, minter(t, secretA))
	if _, err := c.Verify(ctx, "team", sdk.VerifyRequest{Token: tok, At: time.Now().Add(2 * time.Hour)}); !errors.Is(err, sdk.ErrExpired) {
		t.Fatalf("Verify at a later time = %v; want expired", err)
	}

	// Trust changes reach a watcher over the API.
	changes := make(chan []string, 8)
	watchCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go c.WatchTrust(watchCtx, func(p []string) { changes <- p })
	// The stream opens asynchronously: swap the secret back and forth until
	// a change arrives.
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		secret := []string{secretB, secretA}[i%2]
		if _, err := b.Reload(ctx, parse(t, "plugins:\n  - {name: svid, type: x509}\n"+entry(t, "team", secret, false, ""))); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-changes:
			if !slices.Contains(got, "team") {
				t.Fatalf("trust change for %v; want team", got)
			}
			return
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no trust change over the API after reloads")
		}
	}
}
