package spiffehelper

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"encoding/pem"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// maxPEMBytes bounds tls.crt, tls.key and svid_bundle.pem.
const maxPEMBytes = 1 << 20

// x509Files is one consistent set of tls.crt, tls.key and svid_bundle.pem.
type x509Files struct {
	cert, key, ca []byte
	svid          *x509svid.SVID
	bundle        *x509bundle.Bundle
}

func (x *x509Files) same(cert, key, ca []byte) bool {
	return x != nil && bytes.Equal(x.cert, cert) && bytes.Equal(x.key, key) && bytes.Equal(x.ca, ca)
}

// parseX509 takes the three files only together and only when they agree:
// the key matches the leaf and the chain verifies against the bundle at now.
// spiffe-helper writes them one after the other, so a reader may see a new
// certificate with the old key; that pair is refused until the key arrives.
func parseX509(names *settings, cert, key, ca []byte, now time.Time) (*x509Files, error) {
	for _, f := range []struct {
		path string
		data []byte
	}{{names.certPath, cert}, {names.keyPath, key}, {names.caPath, ca}} {
		if err := completePEM(f.path, f.data); err != nil {
			return nil, err
		}
	}
	svid, err := x509svid.Parse(cert, key)
	if err != nil {
		return nil, fmt.Errorf("%s with %s: %v", names.certPath, names.keyPath, err)
	}
	bundle, err := x509bundle.Parse(svid.ID.TrustDomain(), ca)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", names.caPath, err)
	}
	if _, _, err := x509svid.Verify(svid.Certificates, bundle, x509svid.WithTime(now)); err != nil {
		return nil, fmt.Errorf("%s does not chain to %s: %v", names.certPath, names.caPath, err)
	}
	return &x509Files{cert: cert, key: key, ca: ca, svid: svid, bundle: bundle}, nil
}

// completePEM refuses a file that holds no PEM block or ends in a cut-off
// one: Go's PEM reader skips a partial trailing block silently, which would
// make a half-written chain look like a shorter whole one.
func completePEM(path string, data []byte) error {
	rest := data
	blocks := 0
	for {
		block, r := pem.Decode(rest)
		if block == nil {
			break
		}
		blocks++
		rest = r
	}
	if blocks == 0 {
		return fmt.Errorf("%s holds no PEM block (spiffe-helper may be writing it)", path)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return fmt.Errorf("%s ends in an incomplete PEM block (spiffe-helper may be writing it)", path)
	}
	return nil
}

// mlsPublicKey is a certificate key in the raw form MLS uses for leaf
// signature keys: an uncompressed point for ECDSA (65 bytes on P-256), the
// 32 raw bytes for Ed25519. Other key types have no MLS form: nil.
func mlsPublicKey(pub crypto.PublicKey) []byte {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		ecdhKey, err := k.ECDH()
		if err != nil {
			return nil
		}
		return ecdhKey.Bytes()
	case ed25519.PublicKey:
		return bytes.Clone(k)
	}
	return nil
}
