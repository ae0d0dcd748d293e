package service

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/moderator/service/proof"
	moderatorv1 "github.com/slimid/slimid/sdk/proto/moderator/v1"
)

// maxName bounds participant and channel names.
const maxName = 1024

// errProtocol marks a member that broke the stream's protocol; its stream
// is closed with INVALID_ARGUMENT.
var errProtocol = errors.New("protocol error")

func protocolError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errProtocol, fmt.Sprintf(format, args...))
}

// members serves the Moderator service: the members' Connect streams.
type members struct {
	moderatorv1.UnimplementedModeratorServer
	s *Service
}

// frames reads a stream's messages in the background, so the handler can
// wait for them with a deadline.
type frames struct {
	msgs chan *moderatorv1.MemberMessage
	err  chan error
}

func readFrames(stream memberStream) *frames {
	f := &frames{msgs: make(chan *moderatorv1.MemberMessage), err: make(chan error, 1)}
	go func() {
		for {
			msg, err := stream.Recv()
			if err != nil {
				f.err <- err
				return
			}
			select {
			case f.msgs <- msg:
			case <-stream.Context().Done():
				return
			}
		}
	}()
	return f
}

// next waits for the next frame of the handshake.
func (f *frames) next(ctx context.Context, done <-chan struct{}, timeout time.Duration, what string) (*moderatorv1.MemberMessage, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case m := <-f.msgs:
		return m, nil
	case err := <-f.err:
		return nil, err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-done:
		return nil, errStopping
	case <-t.C:
		return nil, status.Errorf(codes.DeadlineExceeded, "no %s within %s", what, timeout)
	}
}

func (m *members) Connect(stream memberStream) error {
	s := m.s
	if s.stopping() {
		return status.Error(codes.Unavailable, errStopping.Error())
	}
	in := readFrames(stream)
	timeout := s.cfg.RetryInterval * time.Duration(s.cfg.MaxRetries+1)
	first, err := in.next(stream.Context(), s.done, timeout, "Hello")
	if err != nil {
		return streamStatus(err)
	}
	hello := first.GetHello()
	if hello == nil {
		return streamStatus(protocolError("the first message must be a Hello"))
	}
	if err := checkName("participant_name", hello.GetParticipantName()); err != nil {
		return streamStatus(protocolError("%v", err))
	}
	awaiting, err := awaitedRefs(hello)
	if err != nil {
		return streamStatus(err)
	}
	nonce := make([]byte, proof.NonceSize)
	rand.Read(nonce)
	c := newConn(s, hello.GetParticipantName(), nonce, stream)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writer()
	}()
	go c.retries()
	cause := m.run(c, in, hello, awaiting, timeout)
	c.close(cause)
	select {
	case <-writerDone:
	case <-time.After(time.Second):
	}
	if !errors.Is(cause, errDisconnected) {
		s.log.Info("member stream closed", "participant", c.name, "reason", cause)
	}
	return streamStatus(cause)
}

// run does the handshake and then serves the stream until it ends; it
// returns why it ended.
func (m *members) run(c *conn, in *frames, hello *moderatorv1.Hello, awaiting map[mls.KeyPackageRef]string, timeout time.Duration) error {
	s := m.s
	c.enqueue(&moderatorv1.ModeratorMessage{Body: &moderatorv1.ModeratorMessage_Challenge{Challenge: &moderatorv1.Challenge{Nonce: c.nonce}}})
	msg, err := in.next(c.ctx, s.done, timeout, "Proof")
	if err != nil {
		return err
	}
	pr := msg.GetProof()
	if pr == nil {
		return protocolError("the second message must be a Proof")
	}
	if len(pr.GetMemberships()) != len(hello.GetMemberships()) {
		return protocolError("the Proof has %d memberships, the Hello %d", len(pr.GetMemberships()), len(hello.GetMemberships()))
	}
	accepted, ready := s.verifyMemberships(c, hello, pr)
	if err := s.addConn(c, accepted, awaiting, ready); err != nil {
		return err
	}
	for _, a := range accepted {
		st := s.channelFor(a.channel)
		if err := st.bind(a.subject, a.leaf, c, a.epoch); err == nil {
			s.recordName(a.channel, a.subject, c.name)
		}
	}
	for _, ch := range awaiting {
		if st := s.channel(ch); st != nil {
			st.kick()
		}
	}
	s.log.Info("participant connected", "participant", c.name, "memberships", len(accepted),
		"refused", len(ready.GetRefused()), "awaiting_welcomes", len(awaiting))
	for {
		select {
		case <-c.ctx.Done():
			return context.Cause(c.ctx)
		case <-s.done:
			return errStopping
		case <-in.err:
			return errDisconnected
		case msg := <-in.msgs:
			if err := s.handleFrame(c, msg); err != nil {
				return err
			}
		}
	}
}

// handleFrame handles one message after the handshake.
func (s *Service) handleFrame(c *conn, msg *moderatorv1.MemberMessage) error {
	switch b := msg.GetBody().(type) {
	case *moderatorv1.MemberMessage_JoinReply:
		if d := c.takeKind(b.JoinReply.GetRequestId(), whatJoinRequest); d != nil {
			d.settle(outcome{reply: b.JoinReply})
		}
	case *moderatorv1.MemberMessage_Ack:
		if d := c.takeAck(b.Ack.GetDeliveryId()); d != nil {
			d.settle(outcome{ack: b.Ack})
		}
	case *moderatorv1.MemberMessage_Publish:
		s.publish(c, b.Publish)
	case *moderatorv1.MemberMessage_Hello, *moderatorv1.MemberMessage_Proof:
		return protocolError("a Hello or Proof after the handshake")
	default:
		return protocolError("an empty message")
	}
	return nil
}

// takeKind removes a pending delivery of the given kind.
func (c *conn) takeKind(id uint64, what string) *delivery {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.pending[id]
	if d == nil || d.what != what {
		return nil
	}
	delete(c.pending, id)
	return d
}

// takeAck removes a pending delivery acknowledged by an Ack (join requests
// are answered by a JoinReply instead).
func (c *conn) takeAck(id uint64) *delivery {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.pending[id]
	if d == nil || d.what == whatJoinRequest {
		return nil
	}
	delete(c.pending, id)
	return d
}

// streamStatus is the status a Connect stream ends with.
func streamStatus(err error) error {
	switch {
	case err == nil, errors.Is(err, errDisconnected), errors.Is(err, context.Canceled):
		return nil
	case errors.Is(err, errReplaced):
		return status.Error(codes.Aborted, err.Error())
	case errors.Is(err, errNameTaken):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, errStopping):
		return status.Error(codes.Unavailable, err.Error())
	case errors.Is(err, errTooSlow):
		return status.Error(codes.ResourceExhausted, err.Error())
	case errors.Is(err, errProtocol):
		return status.Error(codes.InvalidArgument, err.Error())
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codes.Internal, err.Error())
}

// checkName accepts printable UTF-8 names of reasonable length.
func checkName(field, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s is empty", field)
	case len(name) > maxName:
		return fmt.Errorf("%s has %d bytes, at most %d allowed", field, len(name), maxName)
	case !utf8.ValidString(name):
		return fmt.Errorf("%s is not valid UTF-8", field)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return fmt.Errorf("%s %q contains a space or a control character", field, name)
		}
	}
	return nil
}

// awaitedRefs reads the key packages a Hello waits for a Welcome for.
func awaitedRefs(hello *moderatorv1.Hello) (map[mls.KeyPackageRef]string, error) {
	out := map[mls.KeyPackageRef]string{}
	for _, a := range hello.GetAwaiting() {
		if len(a.GetKeyPackageRef()) != len(mls.KeyPackageRef{}) {
			return nil, protocolError("a key package reference has %d bytes, not %d", len(a.GetKeyPackageRef()), len(mls.KeyPackageRef{}))
		}
		if err := checkName("channel_name", a.GetChannelName()); err != nil {
			return nil, protocolError("%v", err)
		}
		out[mls.KeyPackageRef(a.GetKeyPackageRef())] = a.GetChannelName()
	}
	return out, nil
}

// recordName remembers which participant name a member uses.
func (s *Service) recordName(channel, subject, name string) {
	if err := s.names.set(channel, subject, name); err != nil {
		s.log.Warn("participant name not saved; the participant can still be named by its subject", "channel", channel, "subject", subject, "error", err)
	}
}
