package moderator_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/member"
	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/moderator/mls/tsmls"
	"github.com/slimid/slimid/moderator/store"
	"github.com/slimid/slimid/sdk"
)

// These tests run the moderator and its members against ts-mls, an
// independent MLS implementation, on the suites both offer. Every ts-mls
// credential is a SLIM shared-secret token bound to the ts-mls signature key,
// minted by the shared-secret plugin, exactly as a SLIM client would carry it.

const (
	exportLabel = "slimid interop"
	exportSize  = 32
)

var exportContext = []byte("org/ns/channel")

// tsCandidate is a would-be member held by the ts-mls peer: its signature
// key stays in node; its token binds that key.
type tsCandidate struct {
	subject string
	signer  tsmls.Signer
	token   sdk.Token
	kp      tsmls.KeyPackage
}

// newTSCandidate has the peer make a signer, mints a token for subject
// bound to that signer's key, and has the peer build a key package whose
// BasicCredential identity is the token.
func newTSCandidate(t *testing.T, peer *tsmls.Peer, suite tsmls.Suite, subject string) *tsCandidate {
	t.Helper()
	signer, err := peer.NewSigner(t.Context(), suite)
	if err != nil {
		t.Fatal(err)
	}
	tok := tokenFor(t, subject, secretA, sdk.TokenRequest{PublicKey: signer.SignaturePublicKey})
	return tsCandidateWith(t, peer, signer, subject, tok, nil)
}

// tsCandidateWith builds the key package with any token, bound to signer's
// key or not; a nil lifetime is ts-mls's default, unbounded.
func tsCandidateWith(t *testing.T, peer *tsmls.Peer, signer tsmls.Signer, subject string, tok sdk.Token, lifetime *tsmls.Lifetime) *tsCandidate {
	t.Helper()
	kp, err := peer.NewKeyPackage(t.Context(), signer, []byte(tok.Value), lifetime)
	if err != nil {
		t.Fatal(err)
	}
	return &tsCandidate{subject: subject, signer: signer, token: tok, kp: kp}
}

// admitOnly admits key packages and fails the test unless every one is
// admitted.
func (e *env) admitOnly(kps ...[]byte) *moderator.Admission {
	e.t.Helper()
	res, err := e.mod.Admit(context.Background(), group, kps...)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(res.Refused) > 0 {
		e.t.Fatalf("key package %d refused: %v", res.Refused[0].Index, res.Refused[0].Err)
	}
	return res
}

// moderatorExport derives the exporter secret from the moderator's durable
// state of the group: the moderator is closed, its store read, and the
// moderator opened again, so each check is also a restart.
func (e *env) moderatorExport() []byte {
	e.t.Helper()
	if err := e.mod.Close(); err != nil {
		e.t.Fatal(err)
	}
	s, err := store.Open(e.dir)
	if err != nil {
		e.t.Fatal(err)
	}
	saved, err := s.Load(group)
	if closeErr := s.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		e.t.Fatal(err)
	}
	g, err := mls.RestoreGroup(saved.State)
	if err != nil {
		e.t.Fatal(err)
	}
	secret, err := g.Export(exportLabel, exportContext, exportSize)
	if err != nil {
		e.t.Fatal(err)
	}
	e.open()
	return secret
}

// agree checks that the moderator, our members and the ts-mls members are
// in one epoch with one epoch authenticator and one exporter secret.
func (e *env) agree(ts []*tsmls.Group, members ...*member.Member) {
	e.t.Helper()
	e.converged(members...)
	info, err := e.mod.Group(group)
	if err != nil {
		e.t.Fatal(err)
	}
	exported := e.moderatorExport()
	for _, g := range ts {
		tsAgrees(e.t, g, info.Epoch, info.EpochAuthenticator, exported)
	}
}

// tsAgrees checks a ts-mls member's epoch, epoch authenticator and
// exporter secret against ours.
func tsAgrees(t testing.TB, g *tsmls.Group, epoch uint64, authenticator, exported []byte) {
	t.Helper()
	ctx := context.Background()
	got, err := g.Epoch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := g.EpochAuthenticator(ctx)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := g.ExportSecret(ctx, exportLabel, exportContext, exportSize)
	if err != nil {
		t.Fatal(err)
	}
	if got != epoch || !bytes.Equal(auth, authenticator) || !bytes.Equal(secret, exported) {
		t.Fatalf("ts-mls %s: epoch %d, authenticator %x, exporter %x\nours:       epoch %d, authenticator %x, exporter %x",
			g.Handle(), got, auth, secret, epoch, authenticator, exported)
	}
}

// tsProcess has a ts-mls member apply messages and checks the last outcome.
func tsProcess(t testing.TB, g *tsmls.Group, msgs [][]byte, want tsmls.Processed) {
	t.Helper()
	var got tsmls.Processed
	for _, msg := range msgs {
		var err error
		if got, err = g.Process(context.Background(), msg); err != nil {
			t.Fatalf("ts-mls %s: %v", g.Handle(), err)
		}
	}
	if got.Kind != want.Kind || got.Epoch != want.Epoch || got.Removed != want.Removed || !bytes.Equal(got.Plaintext, want.Plaintext) {
		t.Fatalf("ts-mls %s processed %+v, want %+v", g.Handle(), got, want)
	}
}

func tsSend(t testing.TB, g *tsmls.Group, text string) []byte {
	t.Helper()
	msg, err := g.Send(context.Background(), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// receiveText has one of our members take an application message.
func receiveText(t testing.TB, m *member.Member, msg []byte) string {
	t.Helper()
	evs, err := m.Receive(msg)
	if err != nil {
		t.Fatalf("member at leaf %d: %v", m.Leaf(), err)
	}
	if len(evs) != 1 || evs[0].Kind != member.Application {
		t.Fatalf("member at leaf %d: events %+v, want one application message", m.Leaf(), evs)
	}
	return string(evs[0].Data)
}

// moderatorReceives checks that the moderator decrypts an application
// message from sender.
func (e *env) moderatorReceives(msg []byte, sender, text string) {
	e.t.Helper()
	got, err := e.mod.HandleMessage(context.Background(), group, msg)
	if err != nil {
		e.t.Fatal(err)
	}
	if got.Kind != mls.KindApplication || got.Sender != sender || string(got.Data) != text {
		e.t.Fatalf("moderator received %v from %q: %q; want an application message from %q: %q", got.Kind, got.Sender, got.Data, sender, text)
	}
}

func (e *env) moderatorSends(text string) []byte {
	e.t.Helper()
	msg, err := e.mod.Send(context.Background(), group, []byte(text))
	if err != nil {
		e.t.Fatal(err)
	}
	return msg
}

func app(text string, epoch uint64) tsmls.Processed {
	return tsmls.Processed{Kind: tsmls.KindApplication, Plaintext: []byte(text), Epoch: epoch}
}

func commitAt(epoch uint64) tsmls.Processed {
	return tsmls.Processed{Kind: tsmls.KindCommit, Epoch: epoch}
}

// TestInteropTSMLSMemberOfModeratorGroup: our moderator admits ts-mls
// members whose credentials are key-bound shared-secret tokens; they join
// from its Welcome, exchange messages with it, and follow its Add and
// Remove commits, holding the same epoch secrets after every epoch.
func TestInteropTSMLSMemberOfModeratorGroup(t *testing.T) {
	peer := tsmls.Start(t)
	for _, suite := range tsmls.Suites {
		t.Run(suite.String(), func(t *testing.T) {
			ctx := t.Context()
			e := newEnv(t, envOptions{suite: mls.Suite(suite)})
			alice := newTSCandidate(t, peer, suite, "org/ns/alice")
			if err := peer.ResetValidations(ctx); err != nil {
				t.Fatal(err)
			}

			res := e.admitOnly(alice.kp.Message)
			if res.Epoch != 1 || res.Admitted[0].Member.Subject != "org/ns/alice" || !bytes.Equal(res.Admitted[0].Member.SignatureKey, alice.signer.SignaturePublicKey) {
				t.Fatalf("admission: epoch %d, admitted %+v", res.Epoch, res.Admitted)
			}
			ga, err := peer.Join(ctx, res.Commit.Welcome, alice.kp.ID)
			if err != nil {
				t.Fatal(err)
			}
			// Joining, ts-mls checks the moderator's leaf: its token, bound
			// to its key.
			roster, err := e.mod.Members(group)
			if err != nil {
				t.Fatal(err)
			}
			assertAsked(t, peer, "join", "the moderator", roster[0].Token, roster[0].SignatureKey)
			e.agree([]*tsmls.Group{ga})

			tsProcess(t, ga, [][]byte{e.moderatorSends("hello from the moderator")}, app("hello from the moderator", 1))
			e.moderatorReceives(tsSend(t, ga, "hello from ts-mls"), "org/ns/alice", "hello from ts-mls")

			// A further Add: another ts-mls member, whose key package has a
			// bounded lifetime as SLIM's do.
			bobSigner, err := peer.NewSigner(ctx, suite)
			if err != nil {
				t.Fatal(err)
			}
			now := e.clock.Now()
			bob := tsCandidateWith(t, peer, bobSigner, "org/ns/bob",
				tokenFor(t, "org/ns/bob", secretA, sdk.TokenRequest{PublicKey: bobSigner.SignaturePublicKey}),
				&tsmls.Lifetime{NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour)})
			res = e.admitOnly(bob.kp.Message)
			if !slices.Equal(res.Commit.To, []string{"org/ns/alice"}) || !slices.Equal(res.Commit.WelcomeTo, []string{"org/ns/bob"}) {
				t.Fatalf("commit to %v, welcome to %v", res.Commit.To, res.Commit.WelcomeTo)
			}
			tsProcess(t, ga, res.Commit.Messages, commitAt(2))
			gb, err := peer.Join(ctx, res.Commit.Welcome, bob.kp.ID)
			if err != nil {
				t.Fatal(err)
			}
			e.agree([]*tsmls.Group{ga, gb})
			fromBob := tsSend(t, gb, "hello from bob")
			tsProcess(t, ga, [][]byte{fromBob}, app("hello from bob", 2))
			e.moderatorReceives(fromBob, "org/ns/bob", "hello from bob")

			// A Remove: bob follows it out, alice goes on.
			out, err := e.mod.Remove(ctx, group, "org/ns/bob", "left")
			if err != nil {
				t.Fatal(err)
			}
			tsProcess(t, gb, out.Messages, tsmls.Processed{Kind: tsmls.KindCommit, Epoch: 2, Removed: true})
			tsProcess(t, ga, out.Messages, commitAt(3))
			e.agree([]*tsmls.Group{ga})
			tsProcess(t, ga, [][]byte{e.moderatorSends("after the removal")}, app("after the removal", 3))
			e.moderatorReceives(tsSend(t, ga, "still here"), "org/ns/alice", "still here")

			roster, err = e.mod.Members(group)
			if err != nil {
				t.Fatal(err)
			}
			if got := subjects(roster); !slices.Equal(got, []string{"org/ns/moderator", "org/ns/alice"}) {
				t.Fatalf("roster %v", got)
			}
			tsMembers, err := ga.Members(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(tsMembers) != 2 || string(tsMembers[1].Identity) != alice.token.Value {
				t.Fatalf("ts-mls sees members %+v", tsMembers)
			}
		})
	}
}

// TestInteropJoinTSMLSGroup: ts-mls creates the group and commits; our
// members (one through package member, one through the MLS boundary alone)
// join from its Welcome, exchange messages, and follow its Adds and Removes
// in both framings. ts-mls's authentication service is asked about our
// credentials and accepts them.
func TestInteropJoinTSMLSGroup(t *testing.T) {
	peer := tsmls.Start(t)
	for _, suite := range tsmls.Suites {
		t.Run(suite.String(), func(t *testing.T) {
			ctx := t.Context()
			if err := peer.ResetValidations(ctx); err != nil {
				t.Fatal(err)
			}
			creator := newTSCandidate(t, peer, suite, "org/ns/owner")
			g, err := peer.CreateGroup(ctx, creator.signer, []byte(group), []byte(creator.token.Value))
			if err != nil {
				t.Fatal(err)
			}
			ours := &env{t: t, suite: mls.Suite(suite)}
			alice, bob := ours.newCandidate("org/ns/alice"), ours.newCandidate("org/ns/bob")

			add, err := g.Add(ctx, tsmls.FramingPrivate, alice.kp(), bob.kp())
			if err != nil {
				t.Fatal(err)
			}
			ma, err := member.Join(add.Welcome, alice.bundle, alice.cred)
			if err != nil {
				t.Fatal(err)
			}
			gb, err := mls.JoinGroup(add.Welcome, bob.bundle)
			if err != nil {
				t.Fatal(err)
			}
			check := func(epoch uint64, ts ...*tsmls.Group) {
				t.Helper()
				exported, err := gb.Export(exportLabel, exportContext, exportSize)
				if err != nil {
					t.Fatal(err)
				}
				if gb.Epoch() != epoch || ma.Epoch() != epoch || !bytes.Equal(ma.EpochAuthenticator(), gb.EpochAuthenticator()) {
					t.Fatalf("member epochs %d and %d, authenticators equal %v; want epoch %d", ma.Epoch(), gb.Epoch(), bytes.Equal(ma.EpochAuthenticator(), gb.EpochAuthenticator()), epoch)
				}
				for _, tg := range ts {
					tsAgrees(t, tg, epoch, gb.EpochAuthenticator(), exported)
				}
			}
			check(1, g)
			assertValidated(t, peer, "add", alice, bob)

			// Messages both ways.
			hello := tsSend(t, g, "hello from ts-mls")
			if got := receiveText(t, ma, hello); got != "hello from ts-mls" {
				t.Fatalf("alice received %q", got)
			}
			if got := mlsReceive(t, gb, hello); got != "hello from ts-mls" {
				t.Fatalf("bob received %q", got)
			}
			fromAlice, err := ma.Send([]byte("hello from alice"))
			if err != nil {
				t.Fatal(err)
			}
			tsProcess(t, g, [][]byte{fromAlice}, app("hello from alice", 1))
			if got := mlsReceive(t, gb, fromAlice); got != "hello from alice" {
				t.Fatalf("bob received %q", got)
			}
			fromBob, err := gb.Encrypt([]byte("hello from bob"))
			if err != nil {
				t.Fatal(err)
			}
			tsProcess(t, g, [][]byte{fromBob}, app("hello from bob", 1))
			if got := receiveText(t, ma, fromBob); got != "hello from bob" {
				t.Fatalf("alice received %q", got)
			}

			// ts-mls adds one of its own as a PublicMessage; carol's join
			// checks every leaf, ours included.
			carol := newTSCandidate(t, peer, suite, "org/ns/carol")
			addCarol, err := g.Add(ctx, tsmls.FramingPublic, carol.kp.Message)
			if err != nil {
				t.Fatal(err)
			}
			ourCommit(t, ma, gb, addCarol.Message, 2)
			gc, err := peer.Join(ctx, addCarol.Welcome, carol.kp.ID)
			if err != nil {
				t.Fatal(err)
			}
			check(2, g, gc)
			assertValidated(t, peer, "join", alice, bob)

			// It removes carol in a PrivateMessage, then alice in a
			// PublicMessage.
			removeCarol, err := g.Remove(ctx, tsmls.FramingPrivate, 3)
			if err != nil {
				t.Fatal(err)
			}
			ourCommit(t, ma, gb, removeCarol.Message, 3)
			tsProcess(t, gc, [][]byte{removeCarol.Message}, tsmls.Processed{Kind: tsmls.KindCommit, Epoch: 2, Removed: true})
			check(3, g)

			removeAlice, err := g.Remove(ctx, tsmls.FramingPublic, 1)
			if err != nil {
				t.Fatal(err)
			}
			evs, err := ma.Receive(removeAlice.Message)
			if err != nil || len(evs) != 1 || evs[0].Kind != member.Removed {
				t.Fatalf("alice: events %+v, %v; want removed", evs, err)
			}
			got, err := gb.Process(removeAlice.Message)
			if err != nil || got.Kind != mls.KindCommit || got.Epoch != 4 || got.Removed {
				t.Fatalf("bob: %+v, %v; want the commit to epoch 4", got, err)
			}
			exported, err := gb.Export(exportLabel, exportContext, exportSize)
			if err != nil {
				t.Fatal(err)
			}
			tsAgrees(t, g, 4, gb.EpochAuthenticator(), exported)
			tsProcess(t, g, [][]byte{encrypt(t, gb, "alone with ts-mls")}, app("alone with ts-mls", 4))
			if got := mlsReceive(t, gb, tsSend(t, g, "and back")); got != "and back" {
				t.Fatalf("bob received %q", got)
			}
		})
	}
}

// ourCommit applies a ts-mls commit to both of our members.
func ourCommit(t *testing.T, ma *member.Member, gb *mls.Group, commit []byte, epoch uint64) {
	t.Helper()
	evs, err := ma.Receive(commit)
	if err != nil || len(evs) != 1 || evs[0].Kind != member.Commit || evs[0].Epoch != epoch {
		t.Fatalf("alice: events %+v, %v; want the commit to epoch %d", evs, err, epoch)
	}
	got, err := gb.Process(commit)
	if err != nil || got.Kind != mls.KindCommit || got.Epoch != epoch {
		t.Fatalf("bob: %+v, %v; want the commit to epoch %d", got, err, epoch)
	}
}

func mlsReceive(t *testing.T, g *mls.Group, msg []byte) string {
	t.Helper()
	got, err := g.Process(msg)
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != mls.KindApplication {
		t.Fatalf("processed a %v, want an application message", got.Kind)
	}
	return string(got.Data)
}

func encrypt(t *testing.T, g *mls.Group, text string) []byte {
	t.Helper()
	msg, err := g.Encrypt([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// assertValidated checks that ts-mls's authentication service was asked,
// during command, about each candidate's credential (its token, beside its
// own key) and accepted it.
func assertValidated(t *testing.T, peer *tsmls.Peer, command string, cs ...*candidate) {
	t.Helper()
	for _, c := range cs {
		assertAsked(t, peer, command, c.subject, c.cred.Credential.Identity(), c.cred.Signer.PublicKey())
	}
}

// assertAsked checks that ts-mls's authentication service was asked, during
// command, about the BasicCredential identity beside key, and accepted it.
func assertAsked(t *testing.T, peer *tsmls.Peer, command, who string, identity, key []byte) {
	t.Helper()
	vs, err := peer.Validations(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	found := slices.ContainsFunc(vs, func(v tsmls.Validation) bool {
		return v.Command == command && v.Accepted && v.CredentialType == "basic" &&
			bytes.Equal(v.Identity, identity) && bytes.Equal(v.SignaturePublicKey, key)
	})
	if !found {
		var seen []string
		for _, v := range vs {
			seen = append(seen, fmt.Sprintf("%s %s %.24q accepted=%v", v.Command, v.Group, v.Identity, v.Accepted))
		}
		t.Fatalf("ts-mls was not asked during %s about %s's credential; it checked:\n%q", command, who, seen)
	}
}

// TestInteropTSMLSKeyPackageRefused: ts-mls key packages whose token does
// not bind their own key (a token stolen from another key, or one bound to
// none), or whose lifetime is over, are refused with the reason, and the
// group does not move.
func TestInteropTSMLSKeyPackageRefused(t *testing.T) {
	peer := tsmls.Start(t)
	suite := tsmls.SuiteX25519AES128GCM
	e := newEnv(t, envOptions{suite: mls.Suite(suite)})
	victim, err := peer.NewSigner(t.Context(), suite)
	if err != nil {
		t.Fatal(err)
	}
	thief, err := peer.NewSigner(t.Context(), suite)
	if err != nil {
		t.Fatal(err)
	}
	bound := func(subject string, s tsmls.Signer) sdk.Token {
		return tokenFor(t, subject, secretA, sdk.TokenRequest{PublicKey: s.SignaturePublicKey})
	}
	now := e.clock.Now()
	for _, tc := range []struct {
		name    string
		kp      *tsCandidate
		subject string // in the refusal, when the credential verified
		kinds   []error
		want    string
	}{
		{
			name:    "token bound to another key",
			kp:      tsCandidateWith(t, peer, thief, "org/ns/alice", bound("org/ns/alice", victim), nil),
			subject: "org/ns/alice",
			kinds:   []error{sdk.ErrKeyMismatch},
			want: fmt.Sprintf(`token of "org/ns/alice" binds key %s but the leaf carries key %s; a token is valid only beside the key it binds`,
				moderator.Fingerprint(victim.SignaturePublicKey), moderator.Fingerprint(thief.SignaturePublicKey)),
		},
		{
			name:    "token bound to no key",
			kp:      tsCandidateWith(t, peer, thief, "org/ns/ivan", tokenFor(t, "org/ns/ivan", secretA, sdk.TokenRequest{}), nil),
			subject: "org/ns/ivan",
			kinds:   []error{moderator.ErrUnbound, sdk.ErrKeyMismatch},
			want:    `token of "org/ns/ivan" binds no public key (no pubkey claim); fetch the token with the leaf's signature key bound to it`,
		},
		{
			name: "key package lifetime over",
			kp: tsCandidateWith(t, peer, victim, "org/ns/alice", bound("org/ns/alice", victim),
				&tsmls.Lifetime{NotBefore: now.Add(-2 * time.Hour), NotAfter: now.Add(-time.Hour)}),
			kinds: []error{mls.ErrKeyPackage, sdk.ErrInvalid},
			want: fmt.Sprintf("key package: lifetime ended at %s, before %s",
				now.Add(-time.Hour).UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, err := e.mod.Group(group)
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.mod.Admit(t.Context(), group, tc.kp.kp.Message)
			if err != nil {
				t.Fatal(err)
			}
			if res.Commit != nil || len(res.Admitted) != 0 || len(res.Refused) != 1 {
				t.Fatalf("admitted %+v, refused %+v, commit %v; want one refusal and no commit", res.Admitted, res.Refused, res.Commit)
			}
			r := res.Refused[0]
			if r.Err.Error() != tc.want || r.Subject != tc.subject {
				t.Fatalf("refusal %q (subject %q)\nwant     %q (subject %q)", r.Err, r.Subject, tc.want, tc.subject)
			}
			for _, kind := range append(tc.kinds, sdk.ErrRejected) {
				if !errors.Is(r.Err, kind) {
					t.Fatalf("refusal %q is not %v", r.Err, kind)
				}
			}
			after, err := e.mod.Group(group)
			if err != nil {
				t.Fatal(err)
			}
			if res.Epoch != before.Epoch || after.Epoch != before.Epoch || !bytes.Equal(after.EpochAuthenticator, before.EpochAuthenticator) || after.Members != before.Members {
				t.Fatalf("group moved: epoch %d -> %d (admission says %d), %d -> %d members", before.Epoch, after.Epoch, res.Epoch, before.Members, after.Members)
			}
		})
	}
}

// TestInteropMixedAdmission: one commit admits a ts-mls member and a member
// of our own library; both join from the one Welcome and all three
// implementations' views converge, then follow a Remove together.
func TestInteropMixedAdmission(t *testing.T) {
	peer := tsmls.Start(t)
	for _, suite := range tsmls.Suites {
		t.Run(suite.String(), func(t *testing.T) {
			ctx := t.Context()
			e := newEnv(t, envOptions{suite: mls.Suite(suite)})
			alice := newTSCandidate(t, peer, suite, "org/ns/alice")
			bob := e.newCandidate("org/ns/bob")

			res := e.admitOnly(alice.kp.Message, bob.kp())
			if !slices.Equal(res.Commit.WelcomeTo, []string{"org/ns/alice", "org/ns/bob"}) || len(res.Admitted) != 2 {
				t.Fatalf("admitted %+v, welcome to %v", res.Admitted, res.Commit.WelcomeTo)
			}
			ga, err := peer.Join(ctx, res.Commit.Welcome, alice.kp.ID)
			if err != nil {
				t.Fatal(err)
			}
			mb, err := member.Join(res.Commit.Welcome, bob.bundle, bob.cred)
			if err != nil {
				t.Fatal(err)
			}
			e.agree([]*tsmls.Group{ga}, mb)

			fromMod := e.moderatorSends("hello both")
			tsProcess(t, ga, [][]byte{fromMod}, app("hello both", 1))
			if got := receiveText(t, mb, fromMod); got != "hello both" {
				t.Fatalf("bob received %q", got)
			}
			fromAlice := tsSend(t, ga, "hello from ts-mls")
			if got := receiveText(t, mb, fromAlice); got != "hello from ts-mls" {
				t.Fatalf("bob received %q", got)
			}
			e.moderatorReceives(fromAlice, "org/ns/alice", "hello from ts-mls")
			fromBob, err := mb.Send([]byte("hello from mls-go"))
			if err != nil {
				t.Fatal(err)
			}
			tsProcess(t, ga, [][]byte{fromBob}, app("hello from mls-go", 1))
			e.moderatorReceives(fromBob, "org/ns/bob", "hello from mls-go")

			// Another of each in one commit, then one of each out.
			carol := newTSCandidate(t, peer, suite, "org/ns/carol")
			dave := e.newCandidate("org/ns/dave")
			res = e.admitOnly(carol.kp.Message, dave.kp())
			tsProcess(t, ga, res.Commit.Messages, commitAt(2))
			deliver(t, res.Commit, mb)
			gc, err := peer.Join(ctx, res.Commit.Welcome, carol.kp.ID)
			if err != nil {
				t.Fatal(err)
			}
			md, err := member.Join(res.Commit.Welcome, dave.bundle, dave.cred)
			if err != nil {
				t.Fatal(err)
			}
			e.agree([]*tsmls.Group{ga, gc}, mb, md)

			out, err := e.mod.Remove(ctx, group, "org/ns/alice", "")
			if err != nil {
				t.Fatal(err)
			}
			tsProcess(t, ga, out.Messages, tsmls.Processed{Kind: tsmls.KindCommit, Epoch: 2, Removed: true})
			tsProcess(t, gc, out.Messages, commitAt(3))
			deliver(t, out, mb, md)
			out, err = e.mod.Remove(ctx, group, "org/ns/bob", "")
			if err != nil {
				t.Fatal(err)
			}
			tsProcess(t, gc, out.Messages, commitAt(4))
			deliver(t, out, mb, md)
			e.agree([]*tsmls.Group{gc}, md)
		})
	}
}

// TestInteropTSMLSMemberCommitRefused: a ts-mls member that commits on its
// own, in either framing, is refused; the group stays where it was.
func TestInteropTSMLSMemberCommitRefused(t *testing.T) {
	peer := tsmls.Start(t)
	suite := tsmls.SuiteX25519AES128GCM
	ctx := t.Context()
	e := newEnv(t, envOptions{suite: mls.Suite(suite)})
	alice, bob := newTSCandidate(t, peer, suite, "org/ns/alice"), newTSCandidate(t, peer, suite, "org/ns/bob")
	res := e.admitOnly(alice.kp.Message, bob.kp.Message)
	ga, err := peer.Join(ctx, res.Commit.Welcome, alice.kp.ID)
	if err != nil {
		t.Fatal(err)
	}
	gb, err := peer.Join(ctx, res.Commit.Welcome, bob.kp.ID)
	if err != nil {
		t.Fatal(err)
	}
	const reason = "was refused: members propose, only the moderator commits"
	for _, tc := range []struct {
		name    string
		g       *tsmls.Group
		framing tsmls.Framing
		remove  uint32
		// want is the whole error text; a PrivateMessage hides its
		// sender, and the refusal says so.
		want string
	}{
		{"private", ga, tsmls.FramingPrivate, 2, `moderator: group "org/ns/channel": a commit (sender encrypted) ` + reason},
		{"public", gb, tsmls.FramingPublic, 1, `moderator: group "org/ns/channel": a commit from leaf 2 ` + reason},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, err := e.mod.Group(group)
			if err != nil {
				t.Fatal(err)
			}
			c, err := tc.g.Remove(ctx, tc.framing, tc.remove)
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.mod.HandleMessage(ctx, group, c.Message)
			if err == nil || !errors.Is(err, moderator.ErrMemberCommit) || !errors.Is(err, sdk.ErrRejected) {
				t.Fatalf("HandleMessage = %+v, %v; want a refusal (ErrMemberCommit)", got, err)
			}
			if text := err.Error(); (tc.want != "" && text != tc.want) || !strings.HasSuffix(text, reason) {
				t.Fatalf("refusal %q\nwant     %q", text, cmp.Or(tc.want, "… "+reason))
			}
			after, err := e.mod.Group(group)
			if err != nil {
				t.Fatal(err)
			}
			if after.Epoch != before.Epoch || after.Members != 3 || !bytes.Equal(after.EpochAuthenticator, before.EpochAuthenticator) {
				t.Fatalf("group moved: epoch %d -> %d, %d members", before.Epoch, after.Epoch, after.Members)
			}
		})
	}
}

// TestInteropTSMLSFollowsModeratorRenewal: when the moderator renews its own
// credential through a commit's UpdatePath, a ts-mls member checks the new
// leaf (its token, bound to the same key) and follows.
func TestInteropTSMLSFollowsModeratorRenewal(t *testing.T) {
	peer := tsmls.Start(t)
	for _, suite := range tsmls.Suites {
		t.Run(suite.String(), func(t *testing.T) {
			ctx := t.Context()
			e := newEnv(t, envOptions{suite: mls.Suite(suite)})
			alice := newTSCandidate(t, peer, suite, "org/ns/alice")
			res := e.admitOnly(alice.kp.Message)
			ga, err := peer.Join(ctx, res.Commit.Welcome, alice.kp.ID)
			if err != nil {
				t.Fatal(err)
			}
			e.pending()
			if err := peer.ResetValidations(ctx); err != nil {
				t.Fatal(err)
			}

			// Past two thirds of the moderator's token lifetime.
			e.clock.Advance(45 * time.Minute)
			e.sweep()
			renewals := e.pending()
			if len(renewals) != 1 || len(renewals[0].Messages) != 1 {
				t.Fatalf("commits after the sweep: %+v", renewals)
			}
			tsProcess(t, ga, renewals[0].Messages, commitAt(2))
			roster, err := e.mod.Members(group)
			if err != nil {
				t.Fatal(err)
			}
			assertAsked(t, peer, "process", "the moderator", roster[0].Token, roster[0].SignatureKey)
			tsMembers, err := ga.Members(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(tsMembers[0].Identity, roster[0].Token) {
				t.Fatalf("ts-mls sees the moderator as %.40q, want its renewed token %.40q", tsMembers[0].Identity, roster[0].Token)
			}
			e.agree([]*tsmls.Group{ga})
			tsProcess(t, ga, [][]byte{e.moderatorSends("renewed")}, app("renewed", 2))
		})
	}
}
