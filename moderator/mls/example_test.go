package mls_test

import (
	"bytes"
	"fmt"
	"log"
	"time"

	"github.com/slimid/slimid/moderator/mls"
)

// Example walks through a moderator admitting a member, both exchanging a
// message, and the member rotating its credential.
func Example() {
	now := time.Now()
	suite := mls.SuiteP256AES128GCM

	// The moderator creates the group with its own credential.
	modSigner := must(mls.GenerateSigner(suite))
	modCred := must(mls.NewBasicCredential([]byte("moderator identity token")))
	mod := must(mls.CreateGroup([]byte("org/ns/channel"), modSigner, modCred))

	// A member publishes a key package whose credential carries its
	// identity token (the token binds the signature key it was minted for).
	aliceSigner := must(mls.GenerateSigner(suite))
	aliceCred := must(mls.NewBasicCredential([]byte("alice identity token")))
	bundle := must(mls.NewKeyPackage(aliceSigner, aliceCred, mls.Lifetime{NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}))
	wire := bundle.KeyPackage().Bytes()

	// The moderator decodes and validates it, checks that the identity token
	// binds kp.SignatureKey(), then adds the member in one commit.
	kp := must(mls.DecodeKeyPackage(wire))
	if err := mod.ValidateKeyPackage(kp, now); err != nil {
		log.Fatal(err)
	}
	fmt.Println("token binds this key:", bytes.Equal(kp.SignatureKey(), aliceSigner.PublicKey()))
	commit := must(mod.AddMembers(kp))
	saved := must(mod.State()) // persist before sending the commit and the Welcome
	_ = saved

	// The member joins from the Welcome; both talk.
	alice := must(mls.JoinGroup(commit.Welcome, bundle))
	got := must(mod.Process(must(alice.Encrypt([]byte("hello")))))
	fmt.Println(got.Kind, "from leaf", got.Sender, string(got.Data))

	// Alice renews her token and proposes an Update; the moderator checks
	// the new credential and commits it.
	renewed := must(mls.NewBasicCredential([]byte("alice renewed token")))
	proposal := must(alice.ProposeUpdate(nil, renewed))
	update := must(mod.Process(proposal)).Update
	fmt.Println("alice proposes:", string(update.Proposed.Credential.Identity()))
	c := must(mod.CommitPending())
	must(alice.Process(c.Message))
	fmt.Println("epoch", mod.Epoch(), "in sync:", bytes.Equal(mod.EpochAuthenticator(), alice.EpochAuthenticator()))
	// Output:
	// token binds this key: true
	// application from leaf 1 hello
	// alice proposes: alice renewed token
	// epoch 2 in sync: true
}

func must[T any](v T, err error) T {
	if err != nil {
		log.Fatal(err)
	}
	return v
}
