package moderator_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/audit"
	"github.com/slimid/slimid/moderator/member"
	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/moderator/policy"
	"github.com/slimid/slimid/sdk"
)

const denyEve = "deny:\n  subjects: ['org/ns/eve']\n"

// longKeyPackage builds a key package valid for a day, so that only the
// token inside can be out of date.
func longKeyPackage(t *testing.T, signer *mls.Signer, cred mls.Credential) []byte {
	t.Helper()
	b, err := mls.NewKeyPackage(signer, cred, mls.Lifetime{NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return b.KeyPackage().Bytes()
}

func signerFor(t *testing.T, suite mls.Suite) *mls.Signer {
	t.Helper()
	s, err := mls.GenerateSigner(suite)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func tokenFor(t *testing.T, subject, secret string, req sdk.TokenRequest) sdk.Token {
	t.Helper()
	tok, err := newMinter(t, subject, secret).FetchToken(context.Background(), "", req)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func basic(t *testing.T, tok sdk.Token) mls.Credential {
	t.Helper()
	c, err := mls.NewBasicCredential([]byte(tok.Value))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// policyDecision is what the policy package says about subject.
func policyDecision(t *testing.T, doc, subject string) policy.Decision {
	t.Helper()
	p, err := policy.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	d := p.Evaluate(policy.Input{Identity: sdk.Identity{Subject: subject, Provider: "team"}, CredentialType: "basic", Now: time.Now()})
	if d.Allowed {
		t.Fatalf("policy admits %s", subject)
	}
	return d
}

func TestAdmitRefusals(t *testing.T) {
	slim := []string{"slim"}
	e := newEnv(t, envOptions{audiences: slim, policy: denyEve})
	alice, bob := e.newCandidate("org/ns/alice", "slim"), e.newCandidate("org/ns/bob", "slim")
	e.admit(alice, bob)
	if _, err := e.mod.Remove(context.Background(), group, "org/ns/bob", ""); err != nil {
		t.Fatal(err)
	}
	epoch := uint64(2)

	type tc struct {
		name    string
		kp      []byte
		subject string // in the refusal, when the credential verified
		kind    error
		want    string
		at      time.Time // when to admit it; zero: now
	}
	var cases []tc
	{
		// Alice's valid token inside Mallory's key package.
		mallory := signerFor(t, e.suite)
		cases = append(cases, tc{"stolen token", longKeyPackage(t, mallory, alice.cred.Credential), "org/ns/alice", sdk.ErrKeyMismatch,
			fmt.Sprintf(`token of "org/ns/alice" binds key %s but the leaf carries key %s; a token is valid only beside the key it binds`,
				moderator.Fingerprint(alice.cred.Signer.PublicKey()), moderator.Fingerprint(mallory.PublicKey())), time.Time{}})
	}
	{
		s := signerFor(t, e.suite)
		tok := tokenFor(t, "org/ns/frank", secretA, sdk.TokenRequest{PublicKey: s.PublicKey(), Audiences: slim})
		// Checked two hours after it was minted.
		c := tc{"expired token", longKeyPackage(t, s, basic(t, tok)), "", sdk.ErrExpired,
			"token refused: plugin(team): shared-secret token expired 3600s ago (validity window 3600s)", time.Time{}}
		c.at = tok.IssuedAt.Add(2 * time.Hour)
		cases = append(cases, c)
	}
	{
		s := signerFor(t, e.suite)
		tok := tokenFor(t, "org/ns/grace", secretA, sdk.TokenRequest{PublicKey: s.PublicKey(), Audiences: []string{"other"}})
		cases = append(cases, tc{"other audience", longKeyPackage(t, s, basic(t, tok)), "", sdk.ErrAudience,
			`token refused: plugin(team): shared-secret token is for ["other"]; expected one of ["slim"]`, time.Time{}})
	}
	{
		s := signerFor(t, e.suite)
		tok := tokenFor(t, "org/ns/heidi", secretB, sdk.TokenRequest{PublicKey: s.PublicKey(), Audiences: slim})
		cases = append(cases, tc{"unknown secret", longKeyPackage(t, s, basic(t, tok)), "", sdk.ErrInvalid,
			"token refused: plugin(team): shared-secret token: MAC does not match (another secret, or the token was altered)", time.Time{}})
	}
	{
		s := signerFor(t, e.suite)
		tok := tokenFor(t, "org/ns/ivan", secretA, sdk.TokenRequest{Audiences: slim})
		cases = append(cases, tc{"unbound token", longKeyPackage(t, s, basic(t, tok)), "org/ns/ivan", moderator.ErrUnbound,
			`token of "org/ns/ivan" binds no public key (no pubkey claim); fetch the token with the leaf's signature key bound to it`, time.Time{}})
	}
	{
		s := signerFor(t, e.suite)
		tok := tokenFor(t, "org/ns/eve", secretA, sdk.TokenRequest{PublicKey: s.PublicKey(), Audiences: slim})
		cases = append(cases, tc{"policy denial", longKeyPackage(t, s, basic(t, tok)), "org/ns/eve", sdk.ErrPolicy,
			"policy: " + policyDecision(t, denyEve, "org/ns/eve").String(), time.Time{}})
	}
	{
		s := signerFor(t, mls.SuiteP256AES128GCM)
		tok := tokenFor(t, "org/ns/judy", secretA, sdk.TokenRequest{PublicKey: s.PublicKey(), Audiences: slim})
		cases = append(cases, tc{"other suite", longKeyPackage(t, s, basic(t, tok)), "", mls.ErrKeyPackage,
			"key package: ciphersuite 0x0002 does not match the group's 0x0001", time.Time{}})
	}
	{
		again := e.newCandidate("org/ns/alice", "slim")
		cases = append(cases, tc{"duplicate member", again.kp(), "org/ns/alice", moderator.ErrAlreadyMember,
			`"org/ns/alice" is already a member of group "org/ns/channel" (leaf 1); remove it first, or let it rotate its credential with an Update`, time.Time{}})
	}
	cases = append(cases, tc{"removed member's old key package", bob.kp(), "", moderator.ErrKeyPackageUsed,
		fmt.Sprintf(`key package %.16s… was already used to join group "org/ns/channel"; create a fresh key package`, bob.bundle.KeyPackage().Ref()), time.Time{}})
	{
		// A key package claiming a ciphersuite nobody offers: the suite field
		// follows the MLSMessage header (4 bytes) and the protocol version.
		unlisted := bytes.Clone(e.newCandidate("org/ns/ken", "slim").kp())
		binary.BigEndian.PutUint16(unlisted[6:8], 0x0005)
		cases = append(cases, tc{"unlisted suite", unlisted, "", mls.ErrKeyPackage,
			"key package: ciphersuite 0x0005 is not supported (use 0x0001, 0x0002 or 0x0003)", time.Time{}})
	}
	cases = append(cases, tc{"not a key package", []byte("hello"), "", mls.ErrKeyPackage,
		"key package: protocol version 26725 is not MLS 1.0", time.Time{}})

	now := e.clock.Now()
	t.Run("each alone", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e.clock.Set(now)
				if !c.at.IsZero() {
					e.clock.Set(c.at)
				}
				defer e.clock.Set(now)
				res, err := e.mod.Admit(context.Background(), group, c.kp)
				if err != nil {
					t.Fatal(err)
				}
				if res.Commit != nil || res.Epoch != epoch || len(res.Refused) != 1 {
					t.Fatalf("commit %v, epoch %d, %d refusals; want none, %d, 1", res.Commit, res.Epoch, len(res.Refused), epoch)
				}
				r := res.Refused[0]
				if r.Err.Error() != c.want || r.Subject != c.subject {
					t.Fatalf("refusal %q (subject %q)\nwant     %q (subject %q)", r.Err, r.Subject, c.want, c.subject)
				}
				if !errors.Is(r.Err, c.kind) || !errors.Is(r.Err, sdk.ErrRejected) {
					t.Fatalf("refusal %q is not %v and sdk.ErrRejected", r.Err, c.kind)
				}
				evs := e.audit.of(audit.Refused)
				if last := evs[len(evs)-1]; last.Reason != c.want || last.Subject != c.subject || last.Epoch != epoch || last.Group != group {
					t.Fatalf("audit event %+v", last)
				}
			})
		}
	})
	t.Run("with a good one", func(t *testing.T) {
		var kps [][]byte
		var wants []string
		for _, c := range cases {
			if c.at.IsZero() {
				kps, wants = append(kps, c.kp), append(wants, c.want)
			}
		}
		carol := e.newCandidate("org/ns/carol", "slim")
		res, err := e.mod.Admit(context.Background(), group, append(kps, carol.kp())...)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Refused) != len(kps) || len(res.Admitted) != 1 || res.Admitted[0].Index != len(kps) || res.Epoch != epoch+1 {
			t.Fatalf("%d refused, admitted %+v, epoch %d", len(res.Refused), res.Admitted, res.Epoch)
		}
		for i, r := range res.Refused {
			if r.Index != i || r.Err.Error() != wants[i] {
				t.Fatalf("refusal %d: index %d, %q", i, r.Index, r.Err)
			}
		}
		if _, err := member.Join(res.Commit.Welcome, carol.bundle, carol.cred); err != nil {
			t.Fatal(err)
		}
	})
}

func TestAdmitSameSubjectTwiceInOneCall(t *testing.T) {
	e := newEnv(t, envOptions{})
	first, second := e.newCandidate("org/ns/alice"), e.newCandidate("org/ns/alice")
	res, err := e.mod.Admit(context.Background(), group, first.kp(), second.kp())
	if err != nil {
		t.Fatal(err)
	}
	want := `"org/ns/alice" appears twice in one admission; only its first key package is used`
	if len(res.Admitted) != 1 || res.Admitted[0].Index != 0 || len(res.Refused) != 1 || res.Refused[0].Err.Error() != want {
		t.Fatalf("admitted %+v, refused %+v", res.Admitted, res.Refused)
	}
}
