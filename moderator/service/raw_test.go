package service_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/slimid/slimid/moderator/member"
	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/moderator/service/proof"
	"github.com/slimid/slimid/sdk"
	moderatorv1 "github.com/slimid/slimid/sdk/proto/moderator/v1"
)

// rawMember speaks the Connect protocol frame by frame, so tests can
// withhold acknowledgements or send what a real member never would.
type rawMember struct {
	t      testing.TB
	name   string
	conn   *grpc.ClientConn
	stream moderatorv1.Moderator_ConnectClient
	cancel context.CancelFunc
	nonce  []byte
	frames chan *moderatorv1.ModeratorMessage
	ended  chan struct{}

	mu      sync.Mutex
	bundles map[mls.KeyPackageRef]*rawJoin
}

type rawJoin struct {
	channel string
	bundle  *mls.KeyPackageBundle
	cred    member.Credential
}

// dialRaw connects, says Hello (waiting for the Welcomes of the given key
// packages) and completes the handshake with no memberships.
func dialRaw(t testing.TB, socket, name string, awaiting map[mls.KeyPackageRef]*rawJoin) *rawMember {
	t.Helper()
	hello := &moderatorv1.Hello{ParticipantName: name}
	for ref, j := range awaiting {
		hello.Awaiting = append(hello.Awaiting, &moderatorv1.AwaitedWelcome{ChannelName: j.channel, KeyPackageRef: ref[:]})
	}
	r, ready := connectRaw(t, socket, hello, func([]byte) *moderatorv1.Proof { return &moderatorv1.Proof{} })
	if ready == nil {
		t.Fatalf("%s: no Ready", name)
	}
	for ref, j := range awaiting {
		r.bundles[ref] = j
	}
	return r
}

// connectRaw sends hello, answers the Challenge with proofs(nonce) and
// returns the moderator's Ready (nil if the stream ended instead).
func connectRaw(t testing.TB, socket string, hello *moderatorv1.Hello, proofs func(nonce []byte) *moderatorv1.Proof) (*rawMember, *moderatorv1.Ready) {
	t.Helper()
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := moderatorv1.NewModeratorClient(conn).Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := &rawMember{t: t, name: hello.GetParticipantName(), conn: conn, stream: stream, cancel: cancel,
		frames: make(chan *moderatorv1.ModeratorMessage, 1024), ended: make(chan struct{}), bundles: map[mls.KeyPackageRef]*rawJoin{}}
	t.Cleanup(r.close)
	var ready *moderatorv1.Ready
	func() {
		defer func() {
			go func() {
				defer close(r.ended)
				for {
					msg, err := stream.Recv()
					if err != nil {
						return
					}
					r.frames <- msg
				}
			}()
		}()
		if err := stream.Send(&moderatorv1.MemberMessage{Body: &moderatorv1.MemberMessage_Hello{Hello: hello}}); err != nil {
			return
		}
		msg, err := stream.Recv()
		if err != nil {
			return
		}
		r.nonce = msg.GetChallenge().GetNonce()
		if err := stream.Send(&moderatorv1.MemberMessage{Body: &moderatorv1.MemberMessage_Proof{Proof: proofs(r.nonce)}}); err != nil {
			return
		}
		if msg, err = stream.Recv(); err == nil {
			ready = msg.GetReady()
		}
	}()
	return r, ready
}

func (r *rawMember) send(m *moderatorv1.MemberMessage) {
	if err := r.stream.Send(m); err != nil {
		r.t.Errorf("%s: send: %v", r.name, err)
	}
}

// trySend sends a frame, ignoring a stream the moderator closed.
func (r *rawMember) trySend(m *moderatorv1.MemberMessage) error { return r.stream.Send(m) }

func (r *rawMember) close() {
	r.cancel()
	<-r.ended
	r.conn.Close()
}

// next returns the next frame from the moderator.
func (r *rawMember) next() *moderatorv1.ModeratorMessage {
	r.t.Helper()
	select {
	case m := <-r.frames:
		return m
	case <-r.ended:
		r.t.Fatalf("%s: the stream ended", r.name)
	}
	return nil
}

// answerJoin answers a JoinRequest with a key package whose token (from
// plugin) binds its key.
func (r *rawMember) answerJoin(ctx context.Context, src member.TokenFetcher, plugin string, req *moderatorv1.JoinRequest) *rawJoin {
	r.t.Helper()
	suite := mls.Suite(req.GetSuite())
	signer, err := mls.GenerateSigner(suite)
	if err != nil {
		r.t.Fatal(err)
	}
	tok, err := src.FetchToken(ctx, plugin, sdk.TokenRequest{PublicKey: signer.PublicKey(), Audiences: req.GetAudiences()})
	if err != nil {
		r.t.Fatal(err)
	}
	basic, err := mls.NewBasicCredential([]byte(tok.Value))
	if err != nil {
		r.t.Fatal(err)
	}
	cred := member.Credential{Signer: signer, Credential: basic, IssuedAt: tok.IssuedAt, ExpiresAt: tok.ExpiresAt}
	bundle, err := cred.KeyPackage()
	if err != nil {
		r.t.Fatal(err)
	}
	ref := bundle.KeyPackage().Ref()
	sig, err := proof.Sign(signer, proof.KeyPackage(r.nonce, r.name, req.GetChannelName(), ref))
	if err != nil {
		r.t.Fatal(err)
	}
	j := &rawJoin{channel: req.GetChannelName(), bundle: bundle, cred: cred}
	r.mu.Lock()
	r.bundles[ref] = j
	r.mu.Unlock()
	r.send(&moderatorv1.MemberMessage{Body: &moderatorv1.MemberMessage_JoinReply{JoinReply: &moderatorv1.JoinReply{
		RequestId: req.GetRequestId(), KeyPackage: bundle.KeyPackage().Bytes(), Signature: sig,
	}}})
	return j
}

// join applies a Welcome and acknowledges it with the membership proof.
func (r *rawMember) join(d *moderatorv1.Delivery) *member.Member {
	r.t.Helper()
	h, err := mls.ParseHeader(d.GetMessages()[0])
	if err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	var j *rawJoin
	for _, ref := range h.Recipients {
		if r.bundles[ref] != nil {
			j = r.bundles[ref]
		}
	}
	r.mu.Unlock()
	if j == nil {
		r.t.Fatalf("%s: a Welcome for none of its key packages", r.name)
	}
	m, err := member.Join(d.GetMessages()[0], j.bundle, j.cred)
	if err != nil {
		r.t.Fatal(err)
	}
	leaf := uint32(m.Leaf())
	sig, err := proof.Sign(j.cred.Signer, proof.Membership(r.nonce, r.name, j.channel, leaf))
	if err != nil {
		r.t.Fatal(err)
	}
	r.send(&moderatorv1.MemberMessage{Body: &moderatorv1.MemberMessage_Ack{Ack: &moderatorv1.Ack{
		DeliveryId: d.GetDeliveryId(), Joined: &moderatorv1.MembershipProof{ChannelName: j.channel, Leaf: leaf, Epoch: m.Epoch(), Signature: sig},
	}}})
	return m
}

// delivery waits for the next Delivery, skipping other frames.
func (r *rawMember) delivery() *moderatorv1.Delivery {
	r.t.Helper()
	for {
		if d := r.next().GetDelivery(); d != nil {
			return d
		}
	}
}

func (r *rawMember) String() string { return fmt.Sprintf("raw member %s", r.name) }
