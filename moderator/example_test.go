package moderator_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/slimid/slimid/broker"
	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/member"
	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/plugins/sharedsecret"
	"github.com/slimid/slimid/sdk"
)

// A moderator admits alice, whose token is bound to her key package's key,
// and refuses mallory, who carries alice's token in a key package of her
// own key.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "moderator-example-")
	defer os.RemoveAll(dir)
	// One broker per party, sharing a secret: each mints for its own subject.
	brokerFor := func(subject string) *broker.Broker {
		cfg, _ := broker.ParseConfig(fmt.Appendf(nil, "plugins:\n  - name: team\n    type: shared_secret\n    config: {id: %s, random_suffix: false, data: example-secret-0123456789abcdef0123}\n", subject), dir)
		b, err := broker.New(ctx, cfg, broker.Options{Builtins: broker.Builtins{sharedsecret.Name: func() sdk.Plugin { return sharedsecret.New() }}})
		if err != nil {
			panic(err)
		}
		return b
	}
	b := brokerFor("org/ns/moderator")
	defer b.Close()
	mod, err := moderator.Open(ctx, moderator.Config{StateDir: dir, Verifier: b, Tokens: b})
	if err != nil {
		panic(err)
	}
	defer mod.Close()
	signer, _ := mls.GenerateSigner(mls.SuiteP256AES128GCM)
	cred, _ := member.FetchToken(ctx, b, "team", signer, nil)
	mod.CreateGroup(ctx, moderator.GroupSpec{Name: "org/ns/chat", Suite: mls.SuiteP256AES128GCM, Plugin: "team", Signer: signer, Credential: cred.Credential})

	ab := brokerFor("org/ns/alice")
	defer ab.Close()
	aliceKey, _ := mls.GenerateSigner(mls.SuiteP256AES128GCM)
	alice, _ := member.FetchToken(ctx, ab, "team", aliceKey, nil)
	aliceKP, _ := alice.KeyPackage()
	malloryKey, _ := mls.GenerateSigner(mls.SuiteP256AES128GCM)
	mallory := member.Credential{Signer: malloryKey, Credential: alice.Credential, ExpiresAt: alice.ExpiresAt}
	malloryKP, _ := mallory.KeyPackage()

	res, err := mod.Admit(ctx, "org/ns/chat", aliceKP.KeyPackage().Bytes(), malloryKP.KeyPackage().Bytes())
	if err != nil {
		panic(err)
	}
	for _, a := range res.Admitted {
		fmt.Printf("admitted %s at epoch %d\n", a.Member.Subject, res.Epoch)
	}
	for _, r := range res.Refused {
		fmt.Printf("refused key package %d: key mismatch: %v\n", r.Index, errors.Is(r.Err, sdk.ErrKeyMismatch))
	}
	m, _ := member.Join(res.Commit.Welcome, aliceKP, alice)
	info, _ := mod.Group("org/ns/chat")
	fmt.Println("alice shares the epoch authenticator:", string(m.EpochAuthenticator()) == string(info.EpochAuthenticator))
	// Output:
	// admitted org/ns/alice at epoch 1
	// refused key package 1: key mismatch: true
	// alice shares the epoch authenticator: true
}
