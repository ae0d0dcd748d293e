package mls_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"

	"github.com/slimid/slimid/moderator/mls"
)

func TestSuiteValidate(t *testing.T) {
	for _, s := range suites {
		if err := s.Validate(); err != nil {
			t.Fatalf("%v: %v", s, err)
		}
	}
	for _, s := range []mls.Suite{0, 4, 5, 7, 0xffff} {
		err := s.Validate()
		if !errors.Is(err, mls.ErrUnsupportedSuite) {
			t.Fatalf("suite %d accepted: %v", s, err)
		}
	}
	if got, want := mls.Suite(5).Validate().Error(), "mls: unsupported ciphersuite 0x0005: use 0x0001, 0x0002 or 0x0003"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if _, err := mls.GenerateSigner(5); err == nil || err.Error() != "mls: unsupported ciphersuite 0x0005: use 0x0001, 0x0002 or 0x0003" {
		t.Fatalf("signer for suite 5: %v", err)
	}
}

func TestSignerPublicKeyFormat(t *testing.T) {
	for _, s := range suites {
		signer := newSigner(t, s)
		pub := signer.PublicKey()
		switch s {
		case mls.SuiteP256AES128GCM:
			k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pub)
			if len(pub) != 65 || pub[0] != 4 || err != nil || !k.Equal(signer.Public()) {
				t.Fatalf("P-256 key is not the 65-byte uncompressed point of the signer (err %v)", err)
			}
		default:
			if len(pub) != 32 || !bytes.Equal(pub, signer.Public().(ed25519.PublicKey)) {
				t.Fatalf("%v key is not the 32 raw Ed25519 bytes", s)
			}
		}
	}
}

func TestNewSigner(t *testing.T) {
	p256 := p256Key(t)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	tests := []struct {
		name  string
		suite mls.Suite
		key   crypto.Signer
		want  string
	}{
		{"p256 for suite 2", mls.SuiteP256AES128GCM, p256, ""},
		{"ed25519 for suite 1", mls.SuiteX25519AES128GCM, ed, ""},
		{"ed25519 for suite 3", mls.SuiteX25519ChaCha20Poly1305, ed, ""},
		{"p256 for suite 1", mls.SuiteX25519AES128GCM, p256, "mls: signer: suite 0x0001 signs with Ed25519, not ECDSA"},
		{"ed25519 for suite 2", mls.SuiteP256AES128GCM, ed, "mls: signer: suite 0x0002 signs with ECDSA P-256, not Ed25519"},
		{"p384 for suite 2", mls.SuiteP256AES128GCM, p384, "mls: signer: suite 0x0002 needs an ECDSA key on P-256"},
		{"rsa", mls.SuiteP256AES128GCM, rsaKey, "mls: signer: *rsa.PrivateKey is not supported; use an *ecdsa.PrivateKey (P-256) or an ed25519.PrivateKey"},
		{"opaque signer", mls.SuiteP256AES128GCM, opaqueSigner{p256}, "mls: signer: mls_test.opaqueSigner is not supported; use an *ecdsa.PrivateKey (P-256) or an ed25519.PrivateKey"},
		{"nil", mls.SuiteP256AES128GCM, nil, "mls: signer: no key given"},
		{"unsupported suite", 4, p256, "mls: unsupported ciphersuite 0x0004: use 0x0001, 0x0002 or 0x0003"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := mls.NewSigner(tt.suite, tt.key)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				want, _ := publicBytes(tt.key.Public())
				if !bytes.Equal(s.PublicKey(), want) || s.Suite() != tt.suite {
					t.Fatalf("wrapped signer exposes another key")
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// opaqueSigner hides the key type, like a hardware-backed signer would.
type opaqueSigner struct{ crypto.Signer }

func publicBytes(pub crypto.PublicKey) ([]byte, bool) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return k, true
	case *ecdsa.PublicKey:
		e, err := k.ECDH()
		if err != nil {
			return nil, false
		}
		return e.Bytes(), true
	}
	return nil, false
}
