package service_test

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/slimid/slimid/moderator/memberclient"
	"github.com/slimid/slimid/moderator/service"
	moderatorv1 "github.com/slimid/slimid/sdk/proto/moderator/v1"
)

// Frame kinds in a fuzz input: each frame is a kind byte, a 2-byte length
// and that many bytes.
const (
	fuzzProto     = iota // the bytes are a MemberMessage
	fuzzPublish          // the bytes are an MLS message for the channel
	fuzzJoinReply        // the bytes are a key package answering the JoinRequest
	fuzzAck              // the bytes are the proof in an Ack of the last delivery
	fuzzKinds
)

// FuzzMemberStream sends arbitrary frames on a Connect stream: a Hello
// claiming alice's leaf with an arbitrary proof, then malformed messages,
// MLS payloads, key packages and acknowledgements, while the operator adds
// the stream's participant. The moderator must never panic, never accept
// the claim, never admit the participant, and never fan a message out.
func FuzzMemberStream(f *testing.F) {
	ctx := context.Background()
	e := newEnv(f, func(c *service.Config) { c.RetryInterval, c.MaxRetries = 5*time.Millisecond, 1 }, "alice")
	e.createChannel(ctx)
	alice := e.member("alice", "", nil)
	if _, err := e.cm.AddParticipant(ctx, &moderatorv1.AddParticipantRequest{ChannelName: channel, ParticipantName: alice.name}); err != nil {
		f.Fatal(err)
	}
	ms, _ := alice.c.Membership(channel)
	aliceKey := ms.Credential.Signer.PublicKey()

	for _, seed := range fuzzSeeds(f) {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, claim, frames []byte) {
		hello := &moderatorv1.Hello{ParticipantName: "org/ns/fuzz"}
		if len(claim) > 0 {
			hello.Memberships = []*moderatorv1.Membership{{ChannelName: channel, Leaf: uint32(ms.Leaf), Epoch: 1, SignatureKey: aliceKey}}
		}
		r, ready := connectRaw(t, e.socket, hello, func([]byte) *moderatorv1.Proof {
			if len(claim) == 0 {
				return &moderatorv1.Proof{}
			}
			return &moderatorv1.Proof{Memberships: []*moderatorv1.MembershipProof{{ChannelName: channel, Leaf: uint32(ms.Leaf), Epoch: 1, Signature: claim}}}
		})
		if len(ready.GetAccepted()) > 0 {
			t.Fatalf("a membership was accepted on an arbitrary proof %x", claim)
		}
		if ready == nil {
			return
		}
		added := make(chan error, 1)
		go func() {
			_, err := e.cm.AddParticipant(ctx, &moderatorv1.AddParticipantRequest{ChannelName: channel, ParticipantName: "org/ns/fuzz"})
			added <- err
		}()
		var reqID, deliveryID uint64
		seen := func(m *moderatorv1.ModeratorMessage) {
			if jr := m.GetJoinRequest(); jr != nil {
				reqID = jr.GetRequestId()
			}
			if d := m.GetDelivery(); d != nil {
				deliveryID = d.GetDeliveryId()
				if d.GetKind() == moderatorv1.Delivery_KIND_WELCOME {
					t.Fatal("the stream got a Welcome")
				}
			}
		}
		select {
		case m := <-r.frames:
			seen(m)
		case <-r.ended:
		}
		for len(frames) >= 3 {
			kind := frames[0] % fuzzKinds
			n := min(int(binary.BigEndian.Uint16(frames[1:3])), len(frames)-3)
			body := frames[3 : 3+n]
			frames = frames[3+n:]
			var msg *moderatorv1.MemberMessage
			switch kind {
			case fuzzProto:
				msg = &moderatorv1.MemberMessage{}
				if proto.Unmarshal(body, msg) != nil {
					continue
				}
			case fuzzPublish:
				msg = &moderatorv1.MemberMessage{Body: &moderatorv1.MemberMessage_Publish{Publish: &moderatorv1.Publish{ChannelName: channel, Message: body}}}
			case fuzzJoinReply:
				msg = &moderatorv1.MemberMessage{Body: &moderatorv1.MemberMessage_JoinReply{JoinReply: &moderatorv1.JoinReply{
					RequestId: reqID, KeyPackage: body, Signature: body[:min(len(body), 72)],
				}}}
			case fuzzAck:
				msg = &moderatorv1.MemberMessage{Body: &moderatorv1.MemberMessage_Ack{Ack: &moderatorv1.Ack{
					DeliveryId: deliveryID, Joined: &moderatorv1.MembershipProof{ChannelName: channel, Leaf: uint32(ms.Leaf) + 1, Signature: body},
				}}}
			}
			if r.trySend(msg) != nil {
				break
			}
			for drained := false; !drained; {
				select {
				case m := <-r.frames:
					seen(m)
				default:
					drained = true
				}
			}
		}
		// The join settles (refused, or unanswered after the retries) before
		// the stream closes.
		addErr := <-added
		r.close()
		for range len(r.frames) {
			seen(<-r.frames)
		}
		if addErr == nil {
			t.Fatal("the fuzzing participant was admitted")
		}
		g, err := e.svc.Moderator().Group(channel)
		if err != nil {
			t.Fatal(err)
		}
		if g.Members != 2 || g.Epoch != 1 {
			t.Fatalf("the channel changed: %d members at epoch %d", g.Members, g.Epoch)
		}
		if got := alice.rec.all(memberclient.Message); len(got) > 0 {
			t.Fatalf("alice received %q from the fuzzing stream", got[0].Data)
		}
	})
}

// fuzzSeeds are the inputs the corpus in testdata/fuzz starts from, built
// here so they stay valid frames.
func fuzzSeeds(t testing.TB) [][2][]byte {
	frame := func(kind byte, body []byte) []byte {
		return append([]byte{kind, byte(len(body) >> 8), byte(len(body))}, body...)
	}
	marshal := func(m *moderatorv1.MemberMessage) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	hello := marshal(&moderatorv1.MemberMessage{Body: &moderatorv1.MemberMessage_Hello{Hello: &moderatorv1.Hello{ParticipantName: "org/ns/fuzz"}}})
	empty := marshal(&moderatorv1.MemberMessage{})
	unknownAck := marshal(&moderatorv1.MemberMessage{Body: &moderatorv1.MemberMessage_Ack{Ack: &moderatorv1.Ack{DeliveryId: 1 << 40}}})
	otherChannel := marshal(&moderatorv1.MemberMessage{Body: &moderatorv1.MemberMessage_Publish{Publish: &moderatorv1.Publish{ChannelName: "org/ns/other", Message: []byte{0, 1, 0, 2}}}})
	// An MLSMessage header: version 1, private message, a group ID, epoch 1.
	private := append([]byte{0, 1, 0, 2, byte(len(channel))}, channel...)
	private = append(private, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0)
	// A key package header: version 1, key package, version 1, suite 2.
	keyPackage := []byte{0, 1, 0, 5, 0, 1, 0, 2, 0x40, 0x41, 4}
	return [][2][]byte{
		{nil, nil},
		{[]byte("not a signature"), nil},
		{nil, frame(fuzzJoinReply, keyPackage)},
		{nil, frame(fuzzJoinReply, nil)},
		{nil, append(frame(fuzzPublish, private), frame(fuzzPublish, []byte{0xff})...)},
		{nil, append(frame(fuzzAck, []byte("proof")), frame(fuzzProto, unknownAck)...)},
		{nil, append(frame(fuzzProto, otherChannel), frame(fuzzProto, empty)...)},
		{nil, frame(fuzzProto, hello)},
	}
}
