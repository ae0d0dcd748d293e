package spiffehelper_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
	"github.com/slimid/slimid/sdk/jwtverify"
)

// authority is a trust domain's JWT signing keys and X.509 CA, as a SPIRE
// server holds them.
type authority struct {
	trustDomain string
	keys        []*signingKey
	ca          *x509.Certificate
	caKey       *ecdsa.PrivateKey
}

// signingKey is one JWT authority: an ES256 key and its kid.
type signingKey struct {
	kid  string
	priv *ecdsa.PrivateKey
}

func newAuthority(t testing.TB, trustDomain string) *authority {
	t.Helper()
	a := &authority{trustDomain: trustDomain}
	a.addKey(t)
	a.caKey = newECKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"SPIFFE"}},
		URIs:                  []*url.URL{{Scheme: "spiffe", Host: trustDomain}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &a.caKey.PublicKey, a.caKey)
	if err != nil {
		t.Fatalf("create CA: %v", err)
	}
	if a.ca, err = x509.ParseCertificate(der); err != nil {
		t.Fatalf("parse CA: %v", err)
	}
	return a
}

func newECKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	return k
}

// addKey adds a JWT authority, as a SPIRE key rotation does, and returns it.
func (a *authority) addKey(t testing.TB) *signingKey {
	k := &signingKey{kid: fmt.Sprintf("kid-%s-%d", a.trustDomain, len(a.keys)+1), priv: newECKey(t)}
	a.keys = append(a.keys, k)
	return k
}

// jwks is the trust domain's JWKS as SPIRE's bundle has it: kty, crv, x, y
// and kid, with no alg and no use.
func (a *authority) jwks(t testing.TB) []byte {
	t.Helper()
	set := jwk.NewSet()
	for _, k := range a.keys {
		pub, err := jwk.FromRaw(&k.priv.PublicKey)
		if err != nil {
			t.Fatalf("jwk: %v", err)
		}
		if err := pub.Set(jwk.KeyIDKey, k.kid); err != nil {
			t.Fatalf("jwk kid: %v", err)
		}
		if err := set.AddKey(pub); err != nil {
			t.Fatalf("jwk add: %v", err)
		}
	}
	data, err := json.Marshal(set)
	if err != nil {
		t.Fatalf("marshal JWKS: %v", err)
	}
	return data
}

// keyJWT is key.jwt exactly as spiffe-helper writes it: trust domain name to
// standard base64 of the JWKS.
func keyJWT(t testing.TB, authorities ...*authority) []byte {
	t.Helper()
	doc := map[string]string{}
	for _, a := range authorities {
		doc[a.trustDomain] = base64.StdEncoding.EncodeToString(a.jwks(t))
	}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatalf("marshal key.jwt: %v", err)
	}
	return data
}

// svidClaims describes a JWT-SVID to sign.
type svidClaims struct {
	path      string // SPIFFE ID path
	audiences []string
	pubkey    []byte // bound through SLIM's slim-claims audience when set
	issuedAt  time.Time
	expiresAt time.Time
	jti       string
}

func (a *authority) spiffeID(path string) string { return "spiffe://" + a.trustDomain + path }

// sign makes a JWT-SVID with the newest key.
func (a *authority) sign(t testing.TB, c svidClaims) string {
	return a.keys[len(a.keys)-1].sign(t, a, c)
}

// sign makes an ES256 JWT-SVID with this key and its kid in the header.
func (k *signingKey) sign(t testing.TB, a *authority, c svidClaims) string {
	t.Helper()
	if c.path == "" {
		c.path = "/workload"
	}
	if c.audiences == nil {
		c.audiences = []string{"slim-demo"}
	}
	if c.issuedAt.IsZero() {
		c.issuedAt = time.Now().Add(-time.Minute)
	}
	if c.expiresAt.IsZero() {
		c.expiresAt = time.Now().Add(time.Hour)
	}
	auds := append([]string(nil), c.audiences...)
	if c.pubkey != nil {
		sc, err := jwtverify.SlimClaimsAudience(map[string]any{"pubkey": base64.StdEncoding.EncodeToString(c.pubkey)})
		if err != nil {
			t.Fatalf("slim-claims audience: %v", err)
		}
		auds = append(auds, sc)
	}
	b := jwt.NewBuilder().
		Subject(a.spiffeID(c.path)).
		Audience(auds).
		IssuedAt(c.issuedAt).
		Expiration(c.expiresAt)
	if c.jti != "" {
		b = b.JwtID(c.jti)
	}
	tok, err := b.Build()
	if err != nil {
		t.Fatalf("build JWT: %v", err)
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, k.kid); err != nil {
		t.Fatalf("kid header: %v", err)
	}
	if err := hdr.Set(jws.TypeKey, "JWT"); err != nil {
		t.Fatalf("typ header: %v", err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256, k.priv, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatalf("sign JWT: %v", err)
	}
	return string(signed)
}

// x509Files are tls.crt, tls.key and svid_bundle.pem as spiffe-helper
// writes them: the chain, the PKCS#8 key, the trust domain's CAs.
type x509Files struct {
	cert, key, bundle []byte
	leaf              *x509.Certificate
	priv              *ecdsa.PrivateKey
}

// issue makes an X.509-SVID for path, valid over [notBefore, notAfter].
func (a *authority) issue(t testing.TB, path string, notBefore, notAfter time.Time) x509Files {
	t.Helper()
	priv := newECKey(t)
	u, err := url.Parse(a.spiffeID(path))
	if err != nil {
		t.Fatalf("SPIFFE ID: %v", err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatalf("serial: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"SPIRE"}},
		URIs:                  []*url.URL{u},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageKeyAgreement,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.ca, &priv.PublicKey, a.caKey)
	if err != nil {
		t.Fatalf("issue certificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse certificate: %v", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatalf("marshal key: %v", err)
	}
	return x509Files{
		cert:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		key:    pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
		bundle: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.ca.Raw}),
		leaf:   leaf,
		priv:   priv,
	}
}

// svid issues a current X.509-SVID for path.
func (a *authority) svid(t testing.TB, path string) x509Files {
	return a.issue(t, path, time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
}
