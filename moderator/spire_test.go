package moderator_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slimid/slimid/broker"
	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/member"
	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/plugins/sharedsecret"
	"github.com/slimid/slimid/plugins/spire"
	"github.com/slimid/slimid/plugins/spire/spiretest"
	"github.com/slimid/slimid/sdk"
)

// SPIFFE identities into MLS, against a real SPIRE server and agent: a
// member whose BasicCredential is a JWT-SVID bound to its key through SLIM's
// slim-claims audience, and a member whose X509Credential is its
// X.509-SVID (the SVID key is the leaf signature key). Someone else's
// JWT-SVID in a key package is refused.
func TestSPIFFEMembers(t *testing.T) {
	env := spiretest.Start(t, spiretest.Options{})
	agentB := "spiffe://" + env.TrustDomain + "/agent-b"
	env.CreateEntry(t, spiretest.Entry{SPIFFEID: agentB, Hint: "b"})
	cfg, err := broker.ParseConfig(fmt.Appendf(nil, `plugins:
  - name: team
    type: shared_secret
    config: {id: org/ns/moderator, random_suffix: false, data: %q}
  - name: spire-a
    type: spire
    config: {socket_path: %q, target_spiffe_id: %q}
  - name: spire-b
    type: spire
    config: {socket_path: %q, target_spiffe_id: %q}
`, secretA, env.WorkloadAPIAddr, env.WorkloadID, env.WorkloadAPIAddr, agentB), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b, err := broker.New(ctx, cfg, broker.Options{Builtins: broker.Builtins{
		sharedsecret.Name: func() sdk.Plugin { return sharedsecret.New() },
		spire.Name:        func() sdk.Plugin { return spire.New() },
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := b.WaitReady(waitCtx); err != nil {
		t.Fatal(err)
	}

	mod, err := moderator.Open(ctx, moderator.Config{StateDir: t.TempDir(), Verifier: b, Tokens: b})
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close()
	suite := mls.SuiteP256AES128GCM // SPIRE's SVID keys are EC P-256
	modSigner, _ := mls.GenerateSigner(suite)
	modCred, err := member.FetchToken(ctx, b, "team", modSigner, []string{"slim"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mod.CreateGroup(ctx, moderator.GroupSpec{Name: "org/ns/spiffe", Suite: suite, Audiences: []string{"slim"}, Plugin: "team", Signer: modSigner, Credential: modCred.Credential}); err != nil {
		t.Fatal(err)
	}

	// Alice: a JWT-SVID bound to her MLS key (slim-claims audience).
	aliceSigner, _ := mls.GenerateSigner(suite)
	alice, err := member.FetchToken(ctx, b, "spire-a", aliceSigner, []string{"slim"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(alice.Credential.Identity()), ".") {
		t.Fatal("alice's credential is not a JWT-SVID")
	}
	aliceKP, err := alice.KeyPackage()
	if err != nil {
		t.Fatal(err)
	}
	// Bob: his X.509-SVID as an MLS X509Credential.
	bob, err := member.FetchX509(ctx, b, "spire-b")
	if err != nil {
		t.Fatal(err)
	}
	bobKP, err := bob.KeyPackage()
	if err != nil {
		t.Fatal(err)
	}
	// Mallory: alice's JWT-SVID beside mallory's own key.
	malSigner, _ := mls.GenerateSigner(suite)
	mallory, err := mls.NewKeyPackage(malSigner, alice.Credential, mls.Lifetime{NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}

	res, err := mod.Admit(ctx, "org/ns/spiffe", aliceKP.KeyPackage().Bytes(), bobKP.KeyPackage().Bytes(), mallory.KeyPackage().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Admitted) != 2 || len(res.Refused) != 1 {
		t.Fatalf("admitted %d, refused %+v; want 2 admitted and mallory refused", len(res.Admitted), res.Refused)
	}
	got := map[string]moderator.Member{}
	for _, a := range res.Admitted {
		got[a.Member.Subject] = a.Member
	}
	if m, ok := got[env.WorkloadID]; !ok || m.CredentialType != "basic" || m.Provider != "spire-a" {
		t.Fatalf("alice = %+v; want %s, basic, spire-a", m, env.WorkloadID)
	}
	if m, ok := got[agentB]; !ok || m.CredentialType != "x509" {
		t.Fatalf("bob = %+v; want %s with an x509 credential", m, agentB)
	}
	if r := res.Refused[0]; !errors.Is(r.Err, sdk.ErrKeyMismatch) || r.Subject != env.WorkloadID {
		t.Fatalf("mallory's refusal = %v (subject %q); want a key mismatch naming %s", r.Err, r.Subject, env.WorkloadID)
	}

	// Both join from the one Welcome and share the moderator's epoch.
	info, err := mod.Group("org/ns/spiffe")
	if err != nil {
		t.Fatal(err)
	}
	for name, bundle := range map[string]*mls.KeyPackageBundle{"alice": aliceKP, "bob": bobKP} {
		g, err := mls.JoinGroup(res.Commit.Welcome, bundle)
		if err != nil {
			t.Fatalf("%s joins: %v", name, err)
		}
		if string(g.EpochAuthenticator()) != string(info.EpochAuthenticator) {
			t.Fatalf("%s is on another epoch", name)
		}
	}
}
