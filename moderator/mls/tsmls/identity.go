package tsmls

import (
	"context"
	"fmt"
	"time"
)

// Suite is an MLS ciphersuite (RFC 9420 §17.1) that the peer offers.
type Suite uint16

const (
	// SuiteX25519AES128GCM is MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519.
	SuiteX25519AES128GCM Suite = 1
	// SuiteX25519ChaCha20Poly1305 is MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519.
	SuiteX25519ChaCha20Poly1305 Suite = 3
)

// Suites lists the suites the peer offers. ts-mls 1.6.4 also implements
// suite 2, but emits compressed P-256 keys that RFC 9420 forbids.
var Suites = []Suite{SuiteX25519AES128GCM, SuiteX25519ChaCha20Poly1305}

func (s Suite) String() string {
	switch s {
	case SuiteX25519AES128GCM:
		return "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519"
	case SuiteX25519ChaCha20Poly1305:
		return "MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519"
	}
	return fmt.Sprintf("suite 0x%04x", uint16(s))
}

// Signer is a signature key pair held by the peer. Its public key is known
// before any key package exists, so an identity token can bind it first.
type Signer struct {
	ID                 string
	Suite              Suite
	SignaturePublicKey []byte
}

// KeyPackage is a key package the peer made; its private keys stay there.
type KeyPackage struct {
	// ID names the key package to Join.
	ID string
	// Message is the key package as MLSMessage wire bytes.
	Message []byte
	// Ref is its KeyPackageRef (RFC 9420 §5.2).
	Ref []byte
}

// Lifetime bounds a key package's validity, at one-second resolution.
type Lifetime struct {
	NotBefore, NotAfter time.Time
}

// NewSigner makes a signature key pair for suite.
func (p *Peer) NewSigner(ctx context.Context, suite Suite) (Signer, error) {
	var out struct {
		SignerID           string `json:"signer_id"`
		SignaturePublicKey []byte `json:"signature_public_key"`
	}
	err := p.call(ctx, callTimeout, "new_signer", map[string]any{"suite": suite}, &out)
	return Signer{ID: out.SignerID, Suite: suite, SignaturePublicKey: out.SignaturePublicKey}, err
}

// NewKeyPackage makes a key package with a BasicCredential holding identity,
// signed by signer. A nil lifetime takes ts-mls's default (always valid).
func (p *Peer) NewKeyPackage(ctx context.Context, signer Signer, identity []byte, lifetime *Lifetime) (KeyPackage, error) {
	params := map[string]any{"suite": signer.Suite, "signer_id": signer.ID, "identity": identity}
	if lifetime != nil {
		params["lifetime"] = map[string]int64{
			"not_before": lifetime.NotBefore.Unix(),
			"not_after":  lifetime.NotAfter.Unix(),
		}
	}
	var out struct {
		KeyPackageID string `json:"key_package_id"`
		KeyPackage   []byte `json:"key_package"`
		Ref          []byte `json:"ref"`
	}
	err := p.call(ctx, callTimeout, "key_package", params, &out)
	return KeyPackage{ID: out.KeyPackageID, Message: out.KeyPackage, Ref: out.Ref}, err
}
