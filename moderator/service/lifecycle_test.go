package service_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/slimid/slimid/moderator/member"
	"github.com/slimid/slimid/moderator/memberclient"
	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/moderator/service"
	"github.com/slimid/slimid/sdk"
	moderatorv1 "github.com/slimid/slimid/sdk/proto/moderator/v1"
)

// ownSecret gives a plugin entry its own secret, so that it alone verifies
// its tokens, with its own validity window.
const ownSecret = `data: "a-secret-of-its-own-0123456789abcdef"`

// TestAutomaticRenewal: a member whose token lives two seconds renews it on
// its own past half its lifetime; the moderator commits the Update and
// every member follows.
func TestAutomaticRenewal(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil, "alice,validity_window: 2s;"+ownSecret, "bob")
	e.createChannel(ctx)
	alice := e.member("alice", "", nil)
	bob := e.member("bob", "", nil)
	if _, err := e.cm.AddParticipants(ctx, &moderatorv1.AddParticipantsRequest{ChannelName: channel, ParticipantNames: []string{alice.name, bob.name}}); err != nil {
		t.Fatal(err)
	}
	rotated := alice.rec.wait(t, "alice's renewal", func(ev memberclient.Event) bool { return ev.Kind == memberclient.Rotated })
	bob.atEpoch(t, rotated.Epoch)
	a, _ := alice.c.Membership(channel)
	b, _ := bob.c.Membership(channel)
	if !bytes.Equal(a.EpochAuthenticator, b.EpochAuthenticator) {
		t.Fatal("alice and bob disagree after the renewal")
	}
	roster, err := e.svc.Moderator().Members(channel)
	if err != nil {
		t.Fatal(err)
	}
	if got := roster[a.Leaf]; !got.ExpiresAt.Equal(a.Credential.ExpiresAt) || !bytes.Equal(got.Token, a.Credential.Credential.Identity()) {
		t.Fatalf("the roster records a token expiring %v, alice's credential expires %v", got.ExpiresAt, a.Credential.ExpiresAt)
	}
}

// TestExpiredMemberRemoved: a member that does not renew its credential is
// removed once it expired and the grace passed; the lifecycle's commit
// reaches the others and the member is told why.
func TestExpiredMemberRemoved(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, func(c *service.Config) {
		c.Moderator.ExpiryGrace, c.Moderator.SweepInterval = 10*time.Millisecond, 20*time.Millisecond
	}, "alice", "dave,validity_window: 1s;"+ownSecret)
	e.createChannel(ctx)
	alice := e.member("alice", "", nil)
	// dave's credentials come from his plugin, but nothing renews them.
	dave := e.member("dave", "", func(c *memberclient.Config) {
		tokens := c.Tokens
		c.Tokens = nil
		c.Credential = func(ctx context.Context, req memberclient.JoinRequest) (memberclient.Credential, error) {
			return fetchCredential(ctx, tokens, "dave", req)
		}
	})
	if _, err := e.cm.AddParticipants(ctx, &moderatorv1.AddParticipantsRequest{ChannelName: channel, ParticipantNames: []string{alice.name, dave.name}}); err != nil {
		t.Fatal(err)
	}
	gone := dave.rec.wait(t, "dave removed", func(ev memberclient.Event) bool { return ev.Kind == memberclient.Removed })
	if gone.Reason != "credential expired without renewal" || gone.Epoch != 2 {
		t.Fatalf("dave removed at epoch %d: %q", gone.Epoch, gone.Reason)
	}
	alice.atEpoch(t, 2)
	if g := e.group(); g.Members != 2 {
		t.Fatalf("%d members after the expiry, want the moderator and alice", g.Members)
	}
}

// fetchCredential is the default credential, made by hand.
func fetchCredential(ctx context.Context, src memberclient.TokenSource, plugin string, req memberclient.JoinRequest) (memberclient.Credential, error) {
	signer, err := mls.GenerateSigner(req.Suite)
	if err != nil {
		return memberclient.Credential{}, err
	}
	tok, err := src.FetchToken(ctx, plugin, sdk.TokenRequest{PublicKey: signer.PublicKey(), Audiences: req.Audiences})
	if err != nil {
		return memberclient.Credential{}, err
	}
	cred, err := mls.NewBasicCredential([]byte(tok.Value))
	if err != nil {
		return memberclient.Credential{}, err
	}
	return memberclient.Credential{Credential: member.Credential{Signer: signer, Credential: cred, IssuedAt: tok.IssuedAt, ExpiresAt: tok.ExpiresAt}}, nil
}
