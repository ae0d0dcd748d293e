package service_test

import (
	"context"
	"testing"

	"github.com/slimid/slimid/moderator/memberclient"
	moderatorv1 "github.com/slimid/slimid/sdk/proto/moderator/v1"
)

// BenchmarkAddParticipant measures one AddParticipant end to end over the
// unix socket, with two members already in the channel: the JoinRequest,
// the member's token and key package, verification and the commit, the
// commit acknowledged by both members, then the Welcome acknowledged by
// the newcomer. The newcomer is removed between iterations, off the clock.
func BenchmarkAddParticipant(b *testing.B) {
	ctx := context.Background()
	e := newEnv(b, nil, "alice", "bob", "carol")
	e.createChannel(ctx)
	alice := e.member("alice", "", nil)
	bob := e.member("bob", "", nil)
	carol := e.member("carol", "", nil)
	if _, err := e.cm.AddParticipants(ctx, &moderatorv1.AddParticipantsRequest{ChannelName: channel, ParticipantNames: []string{alice.name, bob.name}}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		res, err := e.cm.AddParticipant(ctx, &moderatorv1.AddParticipantRequest{ChannelName: channel, ParticipantName: carol.name})
		if err != nil || !res.GetWelcomeAcknowledged() {
			b.Fatalf("AddParticipant: %v (Welcome acknowledged: %v)", err, res.GetWelcomeAcknowledged())
		}
		b.StopTimer()
		if _, err := e.cm.DeleteParticipant(ctx, &moderatorv1.DeleteParticipantRequest{ChannelName: channel, ParticipantName: carol.name}); err != nil {
			b.Fatal(err)
		}
		carol.rec.wait(b, "carol removed", func(memberclient.Event) bool {
			_, in := carol.c.Membership(channel)
			return !in
		})
		b.StartTimer()
	}
}

// BenchmarkMessage measures an application message from one member until
// the other decrypted it, through the moderator (which checks its sender).
func BenchmarkMessage(b *testing.B) {
	ctx := context.Background()
	e := newEnv(b, nil, "alice", "bob")
	e.createChannel(ctx)
	alice := e.member("alice", "", nil)
	bob := e.member("bob", "", nil)
	if _, err := e.cm.AddParticipants(ctx, &moderatorv1.AddParticipantsRequest{ChannelName: channel, ParticipantNames: []string{alice.name, bob.name}}); err != nil {
		b.Fatal(err)
	}
	bob.atEpoch(b, 1)
	for b.Loop() {
		from := bob.rec.mark()
		if err := alice.c.Send(ctx, channel, []byte("ping")); err != nil {
			b.Fatal(err)
		}
		bob.rec.waitFrom(b, from, "the message", func(ev memberclient.Event) bool { return ev.Kind == memberclient.Message })
	}
}
