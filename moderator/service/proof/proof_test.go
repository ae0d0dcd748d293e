package proof_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"errors"
	"testing"

	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/moderator/service/proof"
)

var nonce = make([]byte, proof.NonceSize)

func TestSignVerify(t *testing.T) {
	for _, suite := range []mls.Suite{mls.SuiteX25519AES128GCM, mls.SuiteP256AES128GCM, mls.SuiteX25519ChaCha20Poly1305} {
		t.Run(suite.String(), func(t *testing.T) {
			signer, err := mls.GenerateSigner(suite)
			if err != nil {
				t.Fatal(err)
			}
			st := proof.Membership(nonce, "org/ns/alice", "org/ns/chat", 3)
			sig, err := proof.Sign(signer, st)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.Verify(suite, signer.PublicKey(), st, sig); err != nil {
				t.Fatalf("a good proof: %v", err)
			}
			other := make([]byte, proof.NonceSize)
			other[0] = 1
			for name, bad := range map[string]proof.Statement{
				"another stream":      proof.Membership(other, "org/ns/alice", "org/ns/chat", 3),
				"another participant": proof.Membership(nonce, "org/ns/mallory", "org/ns/chat", 3),
				"another channel":     proof.Membership(nonce, "org/ns/alice", "org/ns/other", 3),
				"another leaf":        proof.Membership(nonce, "org/ns/alice", "org/ns/chat", 4),
				"another purpose":     proof.KeyPackage(nonce, "org/ns/alice", "org/ns/chat", mls.KeyPackageRef{3}),
			} {
				if err := proof.Verify(suite, signer.PublicKey(), bad, sig); !errors.Is(err, proof.ErrInvalid) {
					t.Errorf("%s: %v, want ErrInvalid", name, err)
				}
			}
		})
	}
}

// Field boundaries are part of what is signed: moving bytes from one field
// to the next makes another statement.
func TestStatementFieldsAreDelimited(t *testing.T) {
	a, _ := proof.Statement{Purpose: "join", Participant: "ab", Channel: "c"}.Bytes()
	b, _ := proof.Statement{Purpose: "join", Participant: "a", Channel: "bc"}.Bytes()
	if string(a) == string(b) {
		t.Fatal("two statements encode the same")
	}
}

func TestSignAndVerifyRefuse(t *testing.T) {
	ed, err := mls.GenerateSigner(mls.SuiteX25519AES128GCM)
	if err != nil {
		t.Fatal(err)
	}
	st := proof.Membership(nonce, "a", "c", 1)
	tests := []struct {
		name string
		err  func() error
		want string
	}{
		{"short Ed25519 key", func() error { return proof.Verify(mls.SuiteX25519AES128GCM, []byte{1}, st, nil) },
			"proof of possession does not verify: the Ed25519 key has 1 bytes, want 32"},
		{"bad P-256 key", func() error { return proof.Verify(mls.SuiteP256AES128GCM, []byte{4, 1}, st, nil) },
			"proof of possession does not verify: P-256 key: invalid P256 point encoding"},
		{"oversized field", func() error {
			_, err := proof.Sign(ed, proof.Statement{Channel: string(make([]byte, 70000))})
			return err
		},
			"proof: a statement field has 70000 bytes, more than 65535"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.err(); err == nil || err.Error() != tt.want {
				t.Fatalf("got %v\nwant %s", err, tt.want)
			}
		})
	}
}

// FuzzVerify: arbitrary signatures and keys are refused, never accepted,
// never a panic.
func FuzzVerify(f *testing.F) {
	// A fixed key, so the seeds mean the same in every fuzzing process.
	scalar := make([]byte, 32)
	scalar[31] = 7
	key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), scalar)
	if err != nil {
		f.Fatal(err)
	}
	pubKey, err := key.PublicKey.Bytes()
	if err != nil {
		f.Fatal(err)
	}
	st := proof.Membership(nonce, "org/ns/alice", "org/ns/chat", 1)
	signer, err := mls.NewSigner(mls.SuiteP256AES128GCM, key)
	if err != nil {
		f.Fatal(err)
	}
	good, err := proof.Sign(signer, st)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint16(mls.SuiteP256AES128GCM), pubKey, good)
	f.Add(uint16(mls.SuiteP256AES128GCM), pubKey, good[:len(good)-1])
	f.Fuzz(func(t *testing.T, suite uint16, pub, sig []byte) {
		err := proof.Verify(mls.Suite(suite), pub, st, sig)
		// Only the signer's key may verify (its signature, or that
		// signature's ECDSA twin).
		if err == nil && (mls.Suite(suite) != mls.SuiteP256AES128GCM || string(pub) != string(pubKey)) {
			t.Fatalf("an arbitrary proof verified: suite %d, key %x, signature %x", suite, pub, sig)
		}
		if err != nil && !errors.Is(err, proof.ErrInvalid) {
			t.Fatalf("a refusal that is not ErrInvalid: %v", err)
		}
	})
}
