package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// rssFixtures are the keys, files and tokens of the measured broker: a
// shared secret, a JWKS for the jwt plugin, and a spiffe-helper cert_dir.
type rssFixtures struct {
	secret    string
	jwks      string // path of the jwt plugin's JWKS
	certDir   string // spiffe-helper's directory
	jwtSigner jose.Signer
	svid      string // the JWT-SVID in certDir
}

const (
	rssIssuer      = "bench-issuer"
	rssAudience    = "slim"
	rssTrustDomain = "example.org"
	rssSVIDAud     = "slim-demo"
)

// writeFixtures makes fresh keys and writes the plugins' files under dir.
func writeFixtures(dir string) (*rssFixtures, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	fx := &rssFixtures{secret: hex.EncodeToString(raw), jwks: filepath.Join(dir, "members.jwks"), certDir: filepath.Join(dir, "svids")}

	jwtKey, jwtSet, err := keyAndSet("bench-1")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(fx.jwks, jwtSet, 0o600); err != nil {
		return nil, err
	}
	if fx.jwtSigner, err = signer(jwtKey, "bench-1"); err != nil {
		return nil, err
	}

	// spiffe-helper's key.jwt maps a trust domain to the base64 of its JWKS.
	svidKey, svidSet, err := keyAndSet("authority-1")
	if err != nil {
		return nil, err
	}
	keyJWT, err := json.Marshal(map[string]string{rssTrustDomain: base64.StdEncoding.EncodeToString(svidSet)})
	if err != nil {
		return nil, err
	}
	svidSigner, err := signer(svidKey, "authority-1")
	if err != nil {
		return nil, err
	}
	now := time.Now()
	fx.svid, err = jwt.Signed(svidSigner).Claims(jwt.Claims{
		Subject: "spiffe://" + rssTrustDomain + "/workload", Audience: []string{rssSVIDAud},
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Hour)),
	}).Serialize()
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(fx.certDir, 0o700); err != nil {
		return nil, err
	}
	for name, content := range map[string][]byte{"key.jwt": keyJWT, "jwt_svid.token": []byte(fx.svid)} {
		if err := os.WriteFile(filepath.Join(fx.certDir, name), content, 0o600); err != nil {
			return nil, err
		}
	}
	return fx, nil
}

// jwtToken signs a token the jwt plugin accepts.
func (fx *rssFixtures) jwtToken() (string, error) {
	now := time.Now()
	return jwt.Signed(fx.jwtSigner).Claims(jwt.Claims{
		Issuer: rssIssuer, Subject: "org/ns/bench", Audience: []string{rssAudience},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Hour)),
	}).Serialize()
}

// config is the broker configuration: shared_secret built in, jwt and
// spiffe_helper external.
func (fx *rssFixtures) config(socket, httpAddr string, jwtBin, helperBin binary) string {
	return fmt.Sprintf(`socket: %q
http: %q
plugins:
  - name: team
    type: shared_secret
    config: {id: org/ns/bench, data: %q}
  - name: corp
    path: %q
    sha256: %q
    config:
      verifier:
        claims: {issuer: %s, audience: [%s]}
        key: {type: decoding, format: jwks, key: {file: %q}}
  - name: workload
    path: %q
    sha256: %q
    config: {cert_dir: %q, jwt_audiences: [%s]}
`, socket, httpAddr, fx.secret, jwtBin.path, jwtBin.sha256, rssIssuer, rssAudience, fx.jwks,
		helperBin.path, helperBin.sha256, fx.certDir, rssSVIDAud)
}

// keyAndSet makes a P-256 key and a JWKS holding its public half.
func keyAndSet(kid string) (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	set, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: kid}}})
	return key, set, err
}

func signer(key *ecdsa.PrivateKey, kid string) (jose.Signer, error) {
	return jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
}
