package tsmls_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/thomas-vilte/mls-go/ciphersuite"

	"github.com/slimid/slimid/moderator/mls/tsmls"
)

// TestSignerKeyBindsKeyPackage: the key announced by NewSigner, before any
// key package exists, is the leaf signature key of the key packages it signs.
func TestSignerKeyBindsKeyPackage(t *testing.T) {
	peer := tsmls.Start(t)
	ctx := t.Context()
	for _, suite := range tsmls.Suites {
		signer, err := peer.NewSigner(ctx, suite)
		if err != nil {
			t.Fatal(err)
		}
		if len(signer.SignaturePublicKey) != 32 {
			t.Fatalf("%v: Ed25519 signature key is %d bytes, want 32", suite, len(signer.SignaturePublicKey))
		}
		lifetime := &tsmls.Lifetime{NotBefore: time.Unix(1_700_000_000, 0), NotAfter: time.Unix(1_900_000_000, 0)}
		kp, err := peer.NewKeyPackage(ctx, signer, []byte("token for org/ns/alice"), lifetime)
		if err != nil {
			t.Fatal(err)
		}
		parsed := parseKeyPackage(t, kp.Message)
		if err := parsed.Verify(parsed.CipherSuite); err != nil {
			t.Fatalf("%v: mls-go rejects the key package signature: %v", suite, err)
		}
		if uint16(parsed.CipherSuite) != uint16(suite) {
			t.Fatalf("key package suite = %d, want %d", parsed.CipherSuite, suite)
		}
		if !bytes.Equal(parsed.LeafNode.SignatureKeyBytes, signer.SignaturePublicKey) {
			t.Fatalf("%v: leaf signature key %x, signer announced %x", suite, parsed.LeafNode.SignatureKeyBytes, signer.SignaturePublicKey)
		}
		if got := string(parsed.LeafNode.Credential.Identity); got != "token for org/ns/alice" {
			t.Fatalf("%v: credential identity = %q", suite, got)
		}
		if lt := parsed.LeafNode.Lifetime; lt.NotBefore != 1_700_000_000 || lt.NotAfter != 1_900_000_000 {
			t.Fatalf("%v: lifetime = %d..%d, want 1700000000..1900000000", suite, lt.NotBefore, lt.NotAfter)
		}
		// KeyPackage.Hash in mls-go is a plain SHA-256, not the RFC 9420 reference.
		ref := ciphersuite.MakeKeyPackageRef(parsed.Raw, ciphersuite.CipherSuite(suite).HashFunction()).AsSlice()
		if !bytes.Equal(ref, kp.Ref) {
			t.Fatalf("%v: mls-go KeyPackageRef %x, ts-mls %x", suite, ref, kp.Ref)
		}
	}
}

// TestAdmissionRecordsAndRefuses: every credential ts-mls checks is
// recorded with its command, and a refused identity keeps a member out.
func TestAdmissionRecordsAndRefuses(t *testing.T) {
	peer := tsmls.Start(t)
	ctx := t.Context()
	suite := tsmls.SuiteX25519AES128GCM

	alice := newGoMember(t, suite, "alice")
	alice.createGroup(t, []byte("admission"))
	signer, err := peer.NewSigner(ctx, suite)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := peer.NewKeyPackage(ctx, signer, []byte("bob"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, welcome := alice.add(t, kp.Message)
	bob, err := peer.Join(ctx, welcome, "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := peer.Validations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checked := map[string]bool{}
	for _, v := range got {
		if v.Command != "join" || v.Group != bob.Handle() || v.CredentialType != "basic" || !v.Accepted {
			t.Fatalf("unexpected validation %+v", v)
		}
		checked[string(v.Identity)] = true
		if string(v.Identity) == "alice" && !bytes.Equal(v.SignaturePublicKey, alice.cred.SignatureKeyBytes) {
			t.Fatalf("alice checked with key %x, want %x", v.SignaturePublicKey, alice.cred.SignatureKeyBytes)
		}
	}
	if !checked["alice"] || !checked["bob"] {
		t.Fatalf("join checked %v, want alice and bob", checked)
	}

	if err := peer.ResetValidations(ctx); err != nil {
		t.Fatal(err)
	}
	if err := peer.Refuse(ctx, []byte("mallory")); err != nil {
		t.Fatal(err)
	}
	mallory := newGoMember(t, suite, "mallory")
	_, err = bob.Add(ctx, tsmls.FramingPrivate, mallory.keyPackageMessage())
	const refused = "ts-mls peer add: ts-mls: ValidationError: Could not validate credential"
	var peerErr *tsmls.Error
	if !errors.As(err, &peerErr) || err.Error() != refused {
		t.Fatalf("add refused identity: err = %v, want %q", err, refused)
	}
	got, err = peer.Validations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Command != "add" || string(got[0].Identity) != "mallory" || got[0].Accepted {
		t.Fatalf("validations after refused add = %+v, want one refused mallory", got)
	}
	if epoch, err := bob.Epoch(ctx); err != nil || epoch != 1 {
		t.Fatalf("epoch after refused add = %d, %v; want 1", epoch, err)
	}

	if err := peer.Refuse(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Add(ctx, tsmls.FramingPrivate, mallory.keyPackageMessage()); err != nil {
		t.Fatalf("add after clearing the refusals: %v", err)
	}
}

// TestPeerErrors: bad requests get a one-line answer and the peer goes on.
func TestPeerErrors(t *testing.T) {
	peer := tsmls.Start(t)
	ctx := t.Context()
	suite := tsmls.SuiteX25519AES128GCM
	signer, err := peer.NewSigner(ctx, suite)
	if err != nil {
		t.Fatal(err)
	}
	g, err := peer.CreateGroup(ctx, signer, []byte("errors"), []byte("alice"))
	if err != nil {
		t.Fatal(err)
	}
	kp, err := peer.NewKeyPackage(ctx, signer, []byte("alice again"), nil)
	if err != nil {
		t.Fatal(err)
	}
	otherGroup := newGoMember(t, suite, "other")
	otherGroup.createGroup(t, []byte("other"))
	_, foreignWelcome := otherGroup.add(t, newGoMember(t, suite, "someone").keyPackageMessage())

	tests := []struct {
		name string
		call func() error
		want string
	}{
		{
			name: "suite_2_refused",
			call: func() error { _, err := peer.NewSigner(ctx, 2); return err },
			want: "ts-mls peer new_signer: suite 2 is not offered: use 1 or 3",
		},
		{
			name: "unknown_signer",
			call: func() error {
				_, err := peer.NewKeyPackage(ctx, tsmls.Signer{ID: "s999", Suite: suite}, []byte("x"), nil)
				return err
			},
			want: "ts-mls peer key_package: signer_id s999 is unknown: create one with new_signer",
		},
		{
			name: "empty_identity",
			call: func() error { _, err := peer.NewKeyPackage(ctx, signer, []byte{}, nil); return err },
			want: "ts-mls peer key_package: identity is empty: pass at least one byte",
		},
		{
			name: "signer_of_other_suite",
			call: func() error {
				_, err := peer.NewKeyPackage(ctx, tsmls.Signer{ID: signer.ID, Suite: 3}, []byte("x"), nil)
				return err
			},
			want: "ts-mls peer key_package: suite 3 differs from the signer's suite 1",
		},
		{
			name: "lifetime_backwards",
			call: func() error {
				lt := &tsmls.Lifetime{NotBefore: time.Unix(20, 0), NotAfter: time.Unix(10, 0)}
				_, err := peer.NewKeyPackage(ctx, signer, []byte("x"), lt)
				return err
			},
			want: "ts-mls peer key_package: lifetime.not_after is before lifetime.not_before",
		},
		{
			name: "process_garbage",
			call: func() error { _, err := g.Process(ctx, []byte{0, 1}); return err },
			want: "ts-mls peer process: message is not an MLSMessage: it does not decode",
		},
		{
			name: "process_key_package",
			call: func() error { _, err := g.Process(ctx, kp.Message); return err },
			want: "ts-mls peer process: message is a mls_key_package, want mls_public_message or mls_private_message",
		},
		{
			name: "process_trailing_bytes",
			call: func() error {
				msg := sendTS(t, ctx, g, "x")
				_, err := g.Process(ctx, append(msg, 0))
				return err
			},
			want: "ts-mls peer process: message has 1 trailing bytes after the MLSMessage",
		},
		{
			name: "add_welcome_as_key_package",
			call: func() error { _, err := g.Add(ctx, tsmls.FramingPrivate, foreignWelcome); return err },
			want: "ts-mls peer add: key_packages[0] is a mls_welcome, want mls_key_package",
		},
		{
			name: "add_nothing",
			call: func() error { _, err := g.Add(ctx, tsmls.FramingPrivate); return err },
			want: "ts-mls peer add: key_packages must be a non-empty array of standard base64 strings",
		},
		{
			name: "remove_blank_leaf",
			call: func() error { _, err := g.Remove(ctx, tsmls.FramingPrivate, 5); return err },
			want: "ts-mls peer remove: ts-mls: ValidationError: Tried to remove empty leaf node",
		},
		{
			name: "join_foreign_welcome",
			call: func() error { _, err := peer.Join(ctx, foreignWelcome, ""); return err },
			want: "ts-mls peer join: welcome is addressed to none of this peer's unused key packages",
		},
		{
			name: "join_with_unknown_key_package",
			call: func() error { _, err := peer.Join(ctx, foreignWelcome, "kp999"); return err },
			want: "ts-mls peer join: key_package_id kp999 is unknown or already used",
		},
		{
			name: "export_zero_length",
			call: func() error { _, err := g.ExportSecret(ctx, "label", nil, 0); return err },
			want: "ts-mls peer export_secret: length must be an integer in [1, 65535], got 0",
		},
		{
			name: "export_empty_label",
			call: func() error { _, err := g.ExportSecret(ctx, "", nil, 32); return err },
			want: "ts-mls peer export_secret: label must be a non-empty string",
		},
		{
			name: "bench_zero_members",
			call: func() error { _, err := peer.Bench(ctx, suite, 0); return err },
			want: "ts-mls peer bench: n must be an integer in [1, 5000], got 0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var peerErr *tsmls.Error
			if !errors.As(err, &peerErr) || err.Error() != tt.want {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if _, err := peer.Version(ctx); err != nil {
				t.Fatalf("peer stopped answering after a bad request: %v", err)
			}
		})
	}
	if epoch, err := g.Epoch(ctx); err != nil || epoch != 0 {
		t.Fatalf("group epoch after refused requests = %d, %v; want 0", epoch, err)
	}
}

func TestBench(t *testing.T) {
	peer := tsmls.Start(t)
	for _, suite := range tsmls.Suites {
		got, err := peer.Bench(t.Context(), suite, 3)
		if err != nil {
			t.Fatal(err)
		}
		if got.N != 3 || got.Suite != suite || got.Add <= 0 || got.Join <= 0 || got.CommitBytes == 0 || got.WelcomeBytes == 0 {
			t.Fatalf("bench result %+v is incomplete", got)
		}
	}
}

// BenchmarkAddMembers reports ts-mls's own timings, taken inside node.
func BenchmarkAddMembers(b *testing.B) {
	peer := tsmls.Start(b)
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			var add, join time.Duration
			for b.Loop() {
				got, err := peer.Bench(b.Context(), tsmls.SuiteX25519AES128GCM, n)
				if err != nil {
					b.Fatal(err)
				}
				add += got.Add + got.CreateGroup
				join += got.Join
			}
			b.ReportMetric(float64(add.Microseconds())/1000/float64(b.N), "ts-add-ms/op")
			b.ReportMetric(float64(join.Microseconds())/1000/float64(b.N), "ts-join-ms/op")
		})
	}
}
