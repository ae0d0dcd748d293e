package mls

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"

	"github.com/thomas-vilte/mls-go/ciphersuite"
)

// Signer holds a member's MLS signature key for one suite: Ed25519 for 0x0001
// and 0x0003, ECDSA P-256 for 0x0002.
//
// mls-go signs with in-memory keys only, so a Signer wraps an
// *ecdsa.PrivateKey or an ed25519.PrivateKey; keys held in a hardware module
// or a remote signer cannot be used.
type Signer struct {
	suite Suite
	raw   crypto.Signer
	key   *ciphersuite.SignaturePrivateKey
	pub   []byte
}

// GenerateSigner creates a fresh signature key pair for the suite.
func GenerateSigner(suite Suite) (*Signer, error) {
	if err := suite.Validate(); err != nil {
		return nil, err
	}
	if suite.usesEd25519() {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("mls: generating an Ed25519 key: %v", err)
		}
		return NewSigner(suite, priv)
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("mls: generating a P-256 key: %v", err)
	}
	return NewSigner(suite, priv)
}

// NewSigner wraps an existing private key, for example the EC P-256 key of a
// SPIRE X.509-SVID (suite 0x0002). The key must be an *ecdsa.PrivateKey on
// P-256 for suite 0x0002, or an ed25519.PrivateKey for 0x0001 and 0x0003.
func NewSigner(suite Suite, key crypto.Signer) (*Signer, error) {
	if err := suite.Validate(); err != nil {
		return nil, err
	}
	switch k := key.(type) {
	case ed25519.PrivateKey:
		if !suite.usesEd25519() {
			return nil, fmt.Errorf("mls: signer: suite 0x%04x signs with ECDSA P-256, not Ed25519", uint16(suite))
		}
		if len(k) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("mls: signer: Ed25519 private key has %d bytes, want %d", len(k), ed25519.PrivateKeySize)
		}
		pub := k.Public().(ed25519.PublicKey)
		return &Signer{suite: suite, raw: k, key: ciphersuite.NewEd25519SignaturePrivateKey(k), pub: append([]byte(nil), pub...)}, nil
	case *ecdsa.PrivateKey:
		if suite.usesEd25519() {
			return nil, fmt.Errorf("mls: signer: suite 0x%04x signs with Ed25519, not ECDSA", uint16(suite))
		}
		if k == nil || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("mls: signer: suite 0x0002 needs an ECDSA key on P-256")
		}
		ecdhKey, err := k.PublicKey.ECDH()
		if err != nil {
			return nil, fmt.Errorf("mls: signer: invalid P-256 key: %v", err)
		}
		return &Signer{suite: suite, raw: k, key: ciphersuite.NewSignaturePrivateKey(k), pub: ecdhKey.Bytes()}, nil
	case nil:
		return nil, fmt.Errorf("mls: signer: no key given")
	default:
		return nil, fmt.Errorf("mls: signer: %T is not supported; use an *ecdsa.PrivateKey (P-256) or an ed25519.PrivateKey", key)
	}
}

// Suite returns the suite the signer belongs to.
func (s *Signer) Suite() Suite { return s.suite }

// PrivateKey returns the private signature key, for signatures outside MLS
// made with the same key (a proof that a member holds its leaf key).
func (s *Signer) PrivateKey() crypto.Signer { return s.raw }

// PublicKey returns the raw signature public key exactly as it appears in the
// leaf node and as SLIM binds it in identity tokens: 32 bytes for Ed25519, the
// 65-byte uncompressed SEC1 point for P-256.
func (s *Signer) PublicKey() []byte { return append([]byte(nil), s.pub...) }

// Public returns the public key as a crypto.PublicKey.
func (s *Signer) Public() crypto.PublicKey { return s.raw.Public() }

// marshal returns the private key as PKCS #8 DER, for saved group state.
func (s *Signer) marshal() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(s.raw)
	if err != nil {
		return nil, fmt.Errorf("mls: encoding the signature key: %v", err)
	}
	return der, nil
}

// parseSigner reads a key written by marshal.
func parseSigner(suite Suite, der []byte) (*Signer, error) {
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("signature key: %v", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("signature key: %T cannot sign", key)
	}
	return NewSigner(suite, signer)
}

// rawPublicKey encodes a public key the way leaf nodes carry it: 32 raw bytes
// for Ed25519, the uncompressed SEC1 point for P-256.
func rawPublicKey(pub crypto.PublicKey) ([]byte, bool) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return append([]byte(nil), k...), true
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, false
		}
		e, err := k.ECDH()
		if err != nil {
			return nil, false
		}
		return e.Bytes(), true
	}
	return nil, false
}
