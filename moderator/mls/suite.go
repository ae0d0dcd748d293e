package mls

import (
	"fmt"

	"github.com/thomas-vilte/mls-go/ciphersuite"
)

// Suite is an MLS ciphersuite (RFC 9420 §17.1). Only the three suites below
// are accepted anywhere in this package.
type Suite uint16

const (
	// SuiteX25519AES128GCM is 0x0001, MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519.
	SuiteX25519AES128GCM Suite = 0x0001
	// SuiteP256AES128GCM is 0x0002, MLS_128_DHKEMP256_AES128GCM_SHA256_P256,
	// SLIM's default and the suite that fits SPIRE's EC P-256 X.509-SVID keys.
	SuiteP256AES128GCM Suite = 0x0002
	// SuiteX25519ChaCha20Poly1305 is 0x0003,
	// MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519.
	SuiteX25519ChaCha20Poly1305 Suite = 0x0003
)

// String returns the RFC 9420 name of the suite, or its number if unknown.
func (s Suite) String() string {
	switch s {
	case SuiteX25519AES128GCM:
		return "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519"
	case SuiteP256AES128GCM:
		return "MLS_128_DHKEMP256_AES128GCM_SHA256_P256"
	case SuiteX25519ChaCha20Poly1305:
		return "MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519"
	}
	return fmt.Sprintf("0x%04x", uint16(s))
}

// Validate reports whether the suite is one this package accepts.
func (s Suite) Validate() error {
	switch s {
	case SuiteX25519AES128GCM, SuiteP256AES128GCM, SuiteX25519ChaCha20Poly1305:
		return nil
	}
	return fmt.Errorf("%w 0x%04x: use 0x0001, 0x0002 or 0x0003", ErrUnsupportedSuite, uint16(s))
}

func (s Suite) mls() ciphersuite.CipherSuite { return ciphersuite.CipherSuite(s) }

// usesEd25519 reports whether the suite signs with Ed25519 (0x0001, 0x0003);
// 0x0002 signs with ECDSA P-256.
func (s Suite) usesEd25519() bool { return s != SuiteP256AES128GCM }

// signatureKeySize is the length of a raw signature public key in the suite.
func (s Suite) signatureKeySize() int {
	if s.usesEd25519() {
		return ciphersuite.Ed25519KeySize
	}
	return ciphersuite.P256UncompressedKeySize
}
