package mls_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/thomas-vilte/mls-go/ciphersuite"
	"github.com/thomas-vilte/mls-go/credentials"
	"github.com/thomas-vilte/mls-go/keypackages"

	"github.com/slimid/slimid/moderator/mls"
)

func TestKeyPackageFramingBothWays(t *testing.T) {
	for _, suite := range suites {
		t.Run(suite.String(), func(t *testing.T) {
			signer := newSigner(t, suite)
			b, err := mls.NewKeyPackage(signer, basicCredential(t, "token-bytes"), dayLifetime())
			if err != nil {
				t.Fatalf("new key package: %v", err)
			}
			framed := b.KeyPackage().Bytes()
			bare := b.KeyPackage().BareBytes()
			if !bytes.Equal(framed[:4], []byte{0, 1, 0, 5}) || !bytes.Equal(framed[4:], bare) {
				t.Fatalf("Bytes is not an mls_key_package MLSMessage around BareBytes")
			}
			for name, in := range map[string][]byte{"mlsmessage": framed, "bare": bare} {
				kp, err := mls.DecodeKeyPackage(in)
				if err != nil {
					t.Fatalf("decode %s: %v", name, err)
				}
				if kp.Suite() != suite || kp.CredentialType() != mls.CredentialBasic ||
					string(kp.Identity()) != "token-bytes" || kp.Certificates() != nil ||
					!bytes.Equal(kp.SignatureKey(), signer.PublicKey()) || kp.Ref() != b.KeyPackage().Ref() ||
					!kp.Lifetime().NotBefore.Equal(dayLifetime().NotBefore) || !kp.Lifetime().NotAfter.Equal(dayLifetime().NotAfter) {
					t.Fatalf("decoded %s key package does not match what was built", name)
				}
				if err := kp.Validate(mls.Requirements{Suite: suite, Now: testNow}); err != nil {
					t.Fatalf("validate %s: %v", name, err)
				}
			}
			// mls-go parses the same bytes and computes the same reference.
			mkp, err := keypackages.UnmarshalKeyPackage(bare)
			if err != nil {
				t.Fatalf("mls-go parsing our key package: %v", err)
			}
			if err := mkp.Verify(ciphersuite.CipherSuite(suite)); err != nil {
				t.Fatalf("mls-go verifying our key package: %v", err)
			}
			want := ciphersuite.MakeKeyPackageRef(bare, ciphersuite.CipherSuite(suite).HashFunction()).AsSlice()
			if ref := b.KeyPackage().Ref(); !bytes.Equal(ref[:], want) {
				t.Fatalf("reference %s, mls-go computes %x", ref, want)
			}
		})
	}
}

func TestKeyPackageFromMLSGo(t *testing.T) {
	// A key package built by mls-go itself (random GREASE values in its
	// capabilities) decodes and validates.
	for _, suite := range suites {
		cwk, _, err := credentials.GenerateCredentialWithKeyForCS([]byte("go-member"), ciphersuite.CipherSuite(suite))
		if err != nil {
			t.Fatalf("mls-go credential: %v", err)
		}
		mkp, _, err := keypackages.Generate(cwk, ciphersuite.CipherSuite(suite))
		if err != nil {
			t.Fatalf("mls-go key package: %v", err)
		}
		kp, err := mls.DecodeKeyPackage(mkp.Marshal())
		if err != nil {
			t.Fatalf("%v: decode: %v", suite, err)
		}
		if err := kp.Validate(mls.Requirements{Suite: suite, Now: time.Now()}); err != nil {
			t.Fatalf("%v: validate: %v", suite, err)
		}
	}
}

func TestDecodeKeyPackageRefusals(t *testing.T) {
	good := newBundle(t, mls.SuiteX25519AES128GCM, "alice").KeyPackage().BareBytes()
	with := func(edit func([]byte) []byte) []byte { return edit(bytes.Clone(good)) }
	grease, key := ed25519Signer(t)
	greaseKP := resign(t, newBundleWith(t, grease, "alice").KeyPackage().BareBytes(), key, false, func(kp *keypackages.KeyPackage) {
		kp.LeafNode.Credential = &credentials.Credential{CredentialType: 0x0a0a}
	})
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "key package: empty input"},
		{"wrong version", with(func(b []byte) []byte { b[1] = 2; return b }), "key package: protocol version 2 is not MLS 1.0"},
		{"unsupported suite", with(func(b []byte) []byte { b[3] = 7; return b }), "key package: ciphersuite 0x0007 is not supported (use 0x0001, 0x0002 or 0x0003)"},
		{"unsupported suite behind the mlsmessage header", with(func(b []byte) []byte { b[3] = 5; return b }), "key package: ciphersuite 0x0005 is not supported (use 0x0001, 0x0002 or 0x0003)"},
		{"trailing bytes", append(bytes.Clone(good), 0), "key package: malformed: trailing bytes or a non-canonical encoding"},
		{"truncated", good[:40], "key package: malformed: parsing LeafNode: reading encryption_key: buffer underrun: need 32 bytes, have 2"},
		{"grease credential", greaseKP, "key package: credential type 0x0a0a is not supported"},
		{"cut inside the leaf node", []byte{0, 1, 0, 3, 0, 1}, "key package: malformed: parsing LeafNode: reading encryption_key: buffer underrun: need 1 bytes, have 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mls.DecodeKeyPackage(tt.in)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
			if !errors.Is(err, mls.ErrKeyPackage) {
				t.Fatalf("%v does not wrap ErrKeyPackage", err)
			}
		})
	}
}

func TestKeyPackageValidation(t *testing.T) {
	signer, key := ed25519Signer(t)
	fresh := func() []byte { return newBundleWith(t, signer, "alice").KeyPackage().BareBytes() }
	suite1 := mls.Requirements{Suite: mls.SuiteX25519AES128GCM, Now: testNow}
	stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	tests := []struct {
		name  string
		build func(t *testing.T) []byte
		req   mls.Requirements
		want  string
	}{
		{
			name: "expired lifetime",
			build: func(t *testing.T) []byte {
				b, err := mls.NewKeyPackage(signer, basicCredential(t, "alice"), mls.Lifetime{NotBefore: testNow.Add(-48 * time.Hour), NotAfter: testNow.Add(-time.Hour)})
				if err != nil {
					t.Fatal(err)
				}
				return b.KeyPackage().Bytes()
			},
			req:  suite1,
			want: "key package: lifetime ended at " + stamp(testNow.Add(-time.Hour)) + ", before " + stamp(testNow),
		},
		{
			name: "lifetime not started",
			build: func(t *testing.T) []byte {
				b, err := mls.NewKeyPackage(signer, basicCredential(t, "alice"), mls.Lifetime{NotBefore: testNow.Add(time.Hour), NotAfter: testNow.Add(2 * time.Hour)})
				if err != nil {
					t.Fatal(err)
				}
				return b.KeyPackage().Bytes()
			},
			req:  suite1,
			want: "key package: lifetime starts at " + stamp(testNow.Add(time.Hour)) + ", after " + stamp(testNow),
		},
		{
			name:  "lifetime too long",
			build: func(t *testing.T) []byte { return fresh() },
			req:   mls.Requirements{Suite: mls.SuiteX25519AES128GCM, Now: testNow, MaxLifetime: time.Hour},
			want:  "key package: lifetime of 25h0m0s exceeds the allowed 1h0m0s",
		},
		{
			name:  "wrong suite",
			build: func(t *testing.T) []byte { return fresh() },
			req:   mls.Requirements{Suite: mls.SuiteP256AES128GCM, Now: testNow},
			want:  "key package: ciphersuite 0x0001 does not match the group's 0x0002",
		},
		{
			name: "bad signature",
			build: func(t *testing.T) []byte {
				b := fresh()
				b[len(b)-1] ^= 1
				return b
			},
			req:  suite1,
			want: "key package: signature does not verify",
		},
		{
			name:  "tampered credential",
			build: func(t *testing.T) []byte { return bytes.Replace(fresh(), []byte("alice"), []byte("mallo"), 1) },
			req:   suite1,
			want:  "key package: signature does not verify",
		},
		{
			name: "bad leaf node signature",
			build: func(t *testing.T) []byte {
				return resign(t, fresh(), key, false, func(kp *keypackages.KeyPackage) { kp.LeafNode.Signature[0] ^= 1 })
			},
			req:  suite1,
			want: "key package: leaf node signature does not verify",
		},
		{
			name: "credential swapped and leaf re-signed by another key",
			build: func(t *testing.T) []byte {
				_, other := ed25519Signer(t)
				return resign(t, fresh(), key, false, func(kp *keypackages.KeyPackage) {
					kp.LeafNode.Credential = credentials.NewBasicCredential([]byte("mallory"))
					signLeaf(t, kp.LeafNode, other)
				})
			},
			req:  suite1,
			want: "key package: leaf node signature does not verify",
		},
		{
			name: "signature key of the wrong size",
			build: func(t *testing.T) []byte {
				return resign(t, fresh(), key, false, func(kp *keypackages.KeyPackage) { kp.LeafNode.SignatureKeyBytes = make([]byte, 33) })
			},
			req:  suite1,
			want: "key package: signature key has 33 bytes, want 32 for suite 0x0001",
		},
		{
			name: "init key equals encryption key",
			build: func(t *testing.T) []byte {
				return resign(t, fresh(), key, false, func(kp *keypackages.KeyPackage) { kp.InitKey = kp.LeafNode.EncryptionKey })
			},
			req:  suite1,
			want: "key package: init key equals the leaf encryption key",
		},
		{
			name: "init key not on the curve",
			build: func(t *testing.T) []byte {
				return resign(t, fresh(), key, false, func(kp *keypackages.KeyPackage) { kp.InitKey = kp.InitKey[:31] })
			},
			req:  suite1,
			want: "key package: init key is not a valid public key for suite 0x0001",
		},
		{
			name: "encryption key not on the curve",
			build: func(t *testing.T) []byte {
				return resign(t, fresh(), key, true, func(kp *keypackages.KeyPackage) { kp.LeafNode.EncryptionKey = []byte{1} })
			},
			req:  suite1,
			want: "key package: encryption key is not a valid public key for suite 0x0001",
		},
		{
			name: "capabilities without the suite",
			build: func(t *testing.T) []byte {
				return resign(t, fresh(), key, true, func(kp *keypackages.KeyPackage) {
					kp.LeafNode.Capabilities.CipherSuites = []keypackages.CipherSuite{ciphersuite.MLS128DHKEMX25519ChaCha20}
				})
			},
			req:  suite1,
			want: "key package: capabilities do not list ciphersuite 0x0001",
		},
		{
			name: "capabilities without MLS 1.0",
			build: func(t *testing.T) []byte {
				return resign(t, fresh(), key, true, func(kp *keypackages.KeyPackage) { kp.LeafNode.Capabilities.ProtocolVersions = nil })
			},
			req:  suite1,
			want: "key package: capabilities do not list protocol version MLS 1.0",
		},
		{
			name: "capabilities without its own credential type",
			build: func(t *testing.T) []byte {
				return resign(t, fresh(), key, true, func(kp *keypackages.KeyPackage) { kp.LeafNode.Capabilities.Credentials = []uint16{2} })
			},
			req:  suite1,
			want: "key package: capabilities do not list its own credential type basic",
		},
		{
			name: "capabilities without a credential type the group uses",
			build: func(t *testing.T) []byte {
				return resign(t, fresh(), key, true, func(kp *keypackages.KeyPackage) { kp.LeafNode.Capabilities.Credentials = []uint16{1} })
			},
			req:  mls.Requirements{Suite: mls.SuiteX25519AES128GCM, Now: testNow, CredentialTypes: []mls.CredentialType{mls.CredentialBasic, mls.CredentialX509}},
			want: "key package: capabilities do not list credential type x509, which members of the group use",
		},
		{
			name:  "credential type some member does not support",
			build: func(t *testing.T) []byte { return fresh() },
			req:   mls.Requirements{Suite: mls.SuiteX25519AES128GCM, Now: testNow, AcceptedCredentialTypes: []mls.CredentialType{mls.CredentialX509}},
			want:  "key package: credential type basic is not supported by every member of the group",
		},
		{
			name:  "capabilities without an extension the group uses",
			build: func(t *testing.T) []byte { return fresh() },
			req:   mls.Requirements{Suite: mls.SuiteX25519AES128GCM, Now: testNow, Extensions: []uint16{0xff00}},
			want:  "key package: capabilities do not list extension 0xff00, which the group uses",
		},
		{
			name: "leaf node from an update",
			build: func(t *testing.T) []byte {
				return resign(t, fresh(), key, true, func(kp *keypackages.KeyPackage) {
					kp.LeafNode.LeafNodeSource = 2
					kp.LeafNode.Lifetime = nil
				})
			},
			req:  suite1,
			want: "key package: leaf node source is 2, want key_package (1)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kp, err := mls.DecodeKeyPackage(tt.build(t))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			err = kp.Validate(tt.req)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got %v\nwant %q", err, tt.want)
			}
			if !errors.Is(err, mls.ErrKeyPackage) {
				t.Fatalf("%v does not wrap ErrKeyPackage", err)
			}
		})
	}
}

func TestGroupValidateKeyPackage(t *testing.T) {
	mod := newModerator(t, mls.SuiteP256AES128GCM)
	if err := mod.ValidateKeyPackage(newBundle(t, mls.SuiteP256AES128GCM, "alice").KeyPackage(), testNow); err != nil {
		t.Fatalf("fitting key package refused: %v", err)
	}
	const want = "key package: ciphersuite 0x0001 does not match the group's 0x0002"
	err := mod.ValidateKeyPackage(newBundle(t, mls.SuiteX25519AES128GCM, "bob").KeyPackage(), testNow)
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
	if _, err := mod.AddMembers(newBundle(t, mls.SuiteX25519AES128GCM, "bob").KeyPackage()); err == nil || err.Error() != want {
		t.Fatalf("AddMembers with the wrong suite: %v", err)
	}
	if mod.Epoch() != 0 {
		t.Fatalf("a refused add moved the group to epoch %d", mod.Epoch())
	}
}

func ed25519Signer(t testing.TB) (*mls.Signer, ed25519.PrivateKey) {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := mls.NewSigner(mls.SuiteX25519AES128GCM, key)
	if err != nil {
		t.Fatal(err)
	}
	return s, key
}

func newBundleWith(t testing.TB, signer *mls.Signer, identity string) *mls.KeyPackageBundle {
	t.Helper()
	b, err := mls.NewKeyPackage(signer, basicCredential(t, identity), dayLifetime())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// resign decodes bare key package bytes with mls-go, applies edit, signs
// the leaf node again when leafToo is set, signs the key package again with
// key, and returns the bare bytes.
func resign(t testing.TB, bare []byte, key ed25519.PrivateKey, leafToo bool, edit func(*keypackages.KeyPackage)) []byte {
	t.Helper()
	kp, err := keypackages.UnmarshalKeyPackage(bare)
	if err != nil {
		t.Fatal(err)
	}
	edit(kp)
	if leafToo {
		signLeaf(t, kp.LeafNode, key)
	}
	sig, err := ciphersuite.SignWithLabel(ciphersuite.NewEd25519SignaturePrivateKey(key), "KeyPackageTBS", kp.MarshalTBS())
	if err != nil {
		t.Fatal(err)
	}
	kp.Signature = sig.AsSlice()
	return kp.Marshal()
}

// signLeaf signs a key package leaf node (no group context) with key. The
// LeafNodeTBS is the encoded leaf without its trailing signature; with an
// empty signature that is the encoding minus its last (length) byte.
func signLeaf(t testing.TB, ln *keypackages.LeafNode, key ed25519.PrivateKey) {
	t.Helper()
	ln.Signature = nil
	enc := ln.Marshal()
	sig, err := ciphersuite.SignWithLabel(ciphersuite.NewEd25519SignaturePrivateKey(key), "LeafNodeTBS", enc[:len(enc)-1])
	if err != nil {
		t.Fatal(err)
	}
	ln.Signature = sig.AsSlice()
}
