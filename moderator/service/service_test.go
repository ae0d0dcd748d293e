package service_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/slimid/slimid/moderator/memberclient"
	"github.com/slimid/slimid/sdk"
	moderatorv1 "github.com/slimid/slimid/sdk/proto/moderator/v1"
)

// TestChannelFlow runs SLIM's flow over the unix socket: a channel, two
// participants admitted in one commit, a third in another, messages fanned
// out, a removal.
func TestChannelFlow(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil, "alice", "bob", "carol")
	e.createChannel(ctx)
	alice := e.member("alice", "", nil)
	bob := e.member("bob", "", nil)
	carol := e.member("carol", "", nil)

	res, err := e.cm.AddParticipants(ctx, &moderatorv1.AddParticipantsRequest{ChannelName: channel, ParticipantNames: []string{alice.name, bob.name}})
	if err != nil {
		t.Fatal(err)
	}
	if res.GetEpoch() != 1 {
		t.Fatalf("alice and bob joined at epoch %d, want 1 (one commit)", res.GetEpoch())
	}
	for _, r := range res.GetResults() {
		if r.GetReason() != "" || !r.GetWelcomeAcknowledged() {
			t.Fatalf("%s: reason %q, welcome acknowledged %v", r.GetParticipantName(), r.GetReason(), r.GetWelcomeAcknowledged())
		}
	}
	added, err := e.cm.AddParticipant(ctx, &moderatorv1.AddParticipantRequest{ChannelName: channel, ParticipantName: carol.name})
	if err != nil {
		t.Fatal(err)
	}
	if added.GetEpoch() != 2 || added.GetParticipant().GetSubject() != "org/ns/carol" || !added.GetWelcomeAcknowledged() {
		t.Fatalf("carol: epoch %d, subject %q, welcome acknowledged %v", added.GetEpoch(), added.GetParticipant().GetSubject(), added.GetWelcomeAcknowledged())
	}
	for _, m := range []*testMember{alice, bob, carol} {
		m.atEpoch(t, 2)
	}
	want := e.group().EpochAuthenticator
	for _, m := range []*testMember{alice, bob, carol} {
		if ms, _ := m.c.Membership(channel); !bytes.Equal(ms.EpochAuthenticator, want) {
			t.Fatalf("%s's epoch authenticator differs from the moderator's", m.name)
		}
	}

	if err := alice.c.Send(ctx, channel, []byte("hello from alice")); err != nil {
		t.Fatal(err)
	}
	if err := carol.c.Send(ctx, channel, []byte("hello from carol")); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*testMember{bob} {
		m.rec.wait(t, "carol's message", func(ev memberclient.Event) bool { return string(ev.Data) == "hello from carol" })
		m.rec.wait(t, "alice's message", func(ev memberclient.Event) bool { return string(ev.Data) == "hello from alice" })
		// Two senders' messages may arrive in either order; each once.
		if got, want := slices.Sorted(slices.Values(m.rec.messages())), []string{"org/ns/alice: hello from alice", "org/ns/carol: hello from carol"}; !slices.Equal(got, want) {
			t.Fatalf("bob got %q, want %q", got, want)
		}
	}
	alice.rec.wait(t, "carol's message", func(ev memberclient.Event) bool { return string(ev.Data) == "hello from carol" })
	carol.rec.wait(t, "alice's message", func(ev memberclient.Event) bool { return string(ev.Data) == "hello from alice" })

	list, err := e.cm.ListParticipants(ctx, &moderatorv1.ListParticipantsRequest{ChannelName: channel})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range list.GetParticipants() {
		if p.GetProvider() != "default" || p.GetCredentialType() != "basic" || p.GetExpiresAt() == nil {
			t.Fatalf("participant %q: provider %q, type %q, expires %v", p.GetSubject(), p.GetProvider(), p.GetCredentialType(), p.GetExpiresAt())
		}
		if !p.GetModerator() && !p.GetConnected() {
			t.Fatalf("participant %q is not connected", p.GetSubject())
		}
		names = append(names, p.GetName()+"="+p.GetSubject())
	}
	if want := []string{"=org/ns/moderator", "org/ns/alice=org/ns/alice", "org/ns/bob=org/ns/bob", "org/ns/carol=org/ns/carol"}; !slices.Equal(names, want) {
		t.Fatalf("participants %q, want %q", names, want)
	}

	del, err := e.cm.DeleteParticipant(ctx, &moderatorv1.DeleteParticipantRequest{ChannelName: channel, ParticipantName: carol.name, Reason: "left the team"})
	if err != nil {
		t.Fatal(err)
	}
	if del.GetEpoch() != 3 {
		t.Fatalf("removal at epoch %d, want 3", del.GetEpoch())
	}
	gone := carol.rec.wait(t, "carol removed", func(ev memberclient.Event) bool { return ev.Kind == memberclient.Removed })
	if gone.Reason != "left the team" {
		t.Fatalf("carol's removal reason %q", gone.Reason)
	}
	alice.atEpoch(t, 3)
	bob.atEpoch(t, 3)
	if _, ok := carol.c.Membership(channel); ok {
		t.Fatal("carol still holds the membership")
	}
	if err := bob.c.Send(ctx, channel, []byte("after carol")); err != nil {
		t.Fatal(err)
	}
	alice.rec.wait(t, "bob's message", func(ev memberclient.Event) bool { return string(ev.Data) == "after carol" })
	if got := len(carol.rec.all(memberclient.Message)); got != 1 {
		t.Fatalf("carol received %d messages, want 1 (alice's, before her removal)", got)
	}
	if got := len(e.svc.Moderator().Groups()); got != 1 {
		t.Fatalf("%d channels", got)
	}
	eventually(t, "every commit acknowledged", func() bool {
		pending, err := e.svc.Moderator().Pending(channel)
		return err == nil && len(pending) == 0
	})
}

// TestRefusedJoin: a participant whose key package carries another
// member's token gets JoinRefused, and the operator the reason.
func TestRefusedJoin(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil, "alice", "bob", "mallory")
	e.createChannel(ctx)
	alice := e.member("alice", "", nil)
	if _, err := e.cm.AddParticipant(ctx, &moderatorv1.AddParticipantRequest{ChannelName: channel, ParticipantName: alice.name}); err != nil {
		t.Fatal(err)
	}
	ms, _ := alice.c.Membership(channel)
	stolen := ms.Credential.Credential // alice's token, as any member sees it in the tree
	mallory := e.member("mallory", "", func(c *memberclient.Config) {
		c.Credential = impostor(stolen)
	})
	_, err := e.cm.AddParticipant(ctx, &moderatorv1.AddParticipantRequest{ChannelName: channel, ParticipantName: mallory.name})
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("AddParticipant: %v, want UNAUTHENTICATED", err)
	}
	if !errors.Is(sdk.FromStatus(err, ""), sdk.ErrKeyMismatch) {
		t.Fatalf("AddParticipant: %v, want a key mismatch", err)
	}
	refused := mallory.rec.wait(t, "JoinRefused", func(ev memberclient.Event) bool { return ev.Kind == memberclient.Refused })
	if refused.Reason != status.Convert(err).Message() || refused.Code != "KEY_MISMATCH" {
		t.Fatalf("mallory was told %q (%s); the operator %q", refused.Reason, refused.Code, status.Convert(err).Message())
	}
	if g := e.group(); g.Epoch != 1 || g.Members != 2 {
		t.Fatalf("after the refusal: epoch %d, %d members", g.Epoch, g.Members)
	}
}

// TestPolicyRefusal: a participant the channel's policy does not allow is
// refused with PERMISSION_DENIED and the policy's reason, and told so.
func TestPolicyRefusal(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil, "alice", "bob")
	pol := []byte("deny:\n  subjects: ['^org/ns/bob$']\n")
	if _, err := e.cm.CreateChannel(ctx, &moderatorv1.CreateChannelRequest{ChannelName: channel, MlsEnabled: true, Policy: pol}); err != nil {
		t.Fatal(err)
	}
	bob := e.member("bob", "", nil)
	_, err := e.cm.AddParticipant(ctx, &moderatorv1.AddParticipantRequest{ChannelName: channel, ParticipantName: bob.name})
	want := `policy: refused by deny.subjects[0]: subject "org/ns/bob" matches deny.subjects[0] '^org/ns/bob$'`
	if st := status.Convert(err); st.Code() != codes.PermissionDenied || st.Message() != want {
		t.Fatalf("got %s %q\nwant PermissionDenied %q", st.Code(), st.Message(), want)
	}
	refused := bob.rec.wait(t, "JoinRefused", func(ev memberclient.Event) bool { return ev.Kind == memberclient.Refused })
	if refused.Reason != want || refused.Code != "POLICY" {
		t.Fatalf("bob was told %q (%s)", refused.Reason, refused.Code)
	}
	alice := e.member("alice", "", nil)
	if _, err := e.cm.AddParticipant(ctx, &moderatorv1.AddParticipantRequest{ChannelName: channel, ParticipantName: alice.name}); err != nil {
		t.Fatalf("alice, whom the policy allows: %v", err)
	}
}

// TestNameAloneCannotTakeOver: a stream that says Hello with a member's
// participant name but proves none of its memberships is turned away, and
// the member's own stream keeps working.
func TestNameAloneCannotTakeOver(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil, "alice", "bob")
	e.createChannel(ctx)
	alice := e.member("alice", "", nil)
	bob := e.member("bob", "", nil)
	if _, err := e.cm.AddParticipants(ctx, &moderatorv1.AddParticipantsRequest{ChannelName: channel, ParticipantNames: []string{alice.name, bob.name}}); err != nil {
		t.Fatal(err)
	}
	_, ready := connectRaw(t, e.socket, &moderatorv1.Hello{ParticipantName: alice.name}, func([]byte) *moderatorv1.Proof { return &moderatorv1.Proof{} })
	if ready != nil {
		t.Fatal("a stream with alice's name and no proof was accepted")
	}
	if err := bob.c.Send(ctx, channel, []byte("still there?")); err != nil {
		t.Fatal(err)
	}
	alice.rec.wait(t, "bob's message", func(ev memberclient.Event) bool { return string(ev.Data) == "still there?" })
	if got := len(alice.rec.all(memberclient.Disconnected)); got != 0 {
		t.Fatalf("alice was disconnected %d times", got)
	}
}
