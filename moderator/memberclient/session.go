package memberclient

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/slimid/slimid/moderator/member"
	"github.com/slimid/slimid/moderator/service/proof"
	moderatorv1 "github.com/slimid/slimid/sdk/proto/moderator/v1"
)

// session is one Connect stream.
type session struct {
	stream moderatorv1.Moderator_ConnectClient
	nonce  []byte
	mu     sync.Mutex // one sender at a time
	// seen holds the application deliveries recently handled on this
	// stream, so a re-sent one is acknowledged without a second event.
	seen    map[uint64]bool
	maxSeen uint64
}

// seenWindow is how many delivery ids back a re-sent application message
// is still recognized; re-sends come within seconds.
const seenWindow = 4096

// firstTime records an application delivery and reports whether it is new.
func (s *session) firstTime(id uint64) bool {
	if s.seen[id] {
		return false
	}
	s.seen[id] = true
	s.maxSeen = max(s.maxSeen, id)
	if len(s.seen) > 2*seenWindow {
		for old := range s.seen {
			if old+seenWindow < s.maxSeen {
				delete(s.seen, old)
			}
		}
	}
	return true
}

func (s *session) send(m *moderatorv1.MemberMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.stream.Send(m); err != nil {
		return fmt.Errorf("%w: %v", ErrNotConnected, err)
	}
	return nil
}

// session runs one stream: the handshake, then every message until the
// stream breaks. connected reports whether the handshake completed.
func (c *Client) session(ctx context.Context, client moderatorv1.ModeratorClient) (connected bool, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := client.Connect(sctx)
	if err != nil {
		return false, err
	}
	hello, claimed := c.hello()
	if err := stream.Send(&moderatorv1.MemberMessage{Body: &moderatorv1.MemberMessage_Hello{Hello: hello}}); err != nil {
		return false, err
	}
	msg, err := stream.Recv()
	if err != nil {
		return false, err
	}
	ch := msg.GetChallenge()
	if ch == nil || len(ch.GetNonce()) != proof.NonceSize {
		return false, errors.New("the moderator did not answer Hello with a Challenge")
	}
	pr := &moderatorv1.Proof{}
	for i, ms := range claimed {
		claim := hello.GetMemberships()[i]
		sig, err := proof.Sign(ms.m.Credential().Signer, proof.Membership(ch.GetNonce(), c.cfg.Name, ms.channel, claim.GetLeaf()))
		if err != nil {
			return false, err
		}
		pr.Memberships = append(pr.Memberships, &moderatorv1.MembershipProof{ChannelName: ms.channel, Leaf: claim.GetLeaf(), Epoch: claim.GetEpoch(), Signature: sig})
	}
	if err := stream.Send(&moderatorv1.MemberMessage{Body: &moderatorv1.MemberMessage_Proof{Proof: pr}}); err != nil {
		return false, err
	}
	if msg, err = stream.Recv(); err != nil {
		return false, err
	}
	ready := msg.GetReady()
	if ready == nil {
		return false, errors.New("the moderator did not answer the Proof with Ready")
	}
	for _, r := range ready.GetRefused() {
		if r.GetEnded() {
			if c.forget(r.GetChannelName()) != nil {
				c.emit(Event{Kind: Removed, Channel: r.GetChannelName(), Reason: r.GetReason()})
			}
			continue
		}
		c.log.Warn("the moderator did not accept a membership", "channel", r.GetChannelName(), "reason", r.GetReason())
	}
	s := &session{stream: stream, nonce: ch.GetNonce(), seen: map[uint64]bool{}}
	c.mu.Lock()
	c.sess = s
	clear(c.byRequest)
	queued := c.queued
	c.queued = map[string][]byte{}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.sess == s {
			c.sess = nil
		}
		c.mu.Unlock()
	}()
	c.emit(Event{Kind: Connected})
	for _, channel := range slices.Sorted(maps.Keys(queued)) {
		if err := c.publish(channel, queued[channel]); err != nil {
			return true, err
		}
	}
	for {
		msg, err := stream.Recv()
		if err != nil {
			return true, err
		}
		if err := c.handle(sctx, s, msg); err != nil {
			return true, err
		}
	}
}

// hello describes what this client is: its memberships (with the members
// whose keys will prove them) and the key packages waiting for a Welcome.
func (c *Client) hello() (*moderatorv1.Hello, []*membership) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := &moderatorv1.Hello{ParticipantName: c.cfg.Name}
	var claimed []*membership
	for _, channel := range slices.Sorted(maps.Keys(c.memberships)) {
		ms := c.memberships[channel]
		ms.mu.Lock()
		h.Memberships = append(h.Memberships, &moderatorv1.Membership{
			ChannelName: channel, Leaf: uint32(ms.m.Leaf()), Epoch: ms.m.Epoch(), SignatureKey: ms.m.Credential().Signer.PublicKey(),
		})
		ms.mu.Unlock()
		claimed = append(claimed, ms)
	}
	now := time.Now()
	for ref, pj := range c.joins {
		// A key package past its lifetime gets no Welcome any more.
		if pj.bundle.KeyPackage().Lifetime().NotAfter.Before(now) {
			delete(c.joins, ref)
			if err := c.store.deleteJoin(ref); err != nil {
				c.log.Warn("could not delete an expired key package", "error", err)
			}
			continue
		}
		h.Awaiting = append(h.Awaiting, &moderatorv1.AwaitedWelcome{ChannelName: pj.channel, KeyPackageRef: ref[:]})
	}
	return h, claimed
}

// handle processes one message from the moderator.
func (c *Client) handle(ctx context.Context, s *session, msg *moderatorv1.ModeratorMessage) error {
	switch b := msg.GetBody().(type) {
	case *moderatorv1.ModeratorMessage_JoinRequest:
		return c.answerJoin(ctx, s, b.JoinRequest)
	case *moderatorv1.ModeratorMessage_JoinRefused:
		c.joinRefused(b.JoinRefused)
	case *moderatorv1.ModeratorMessage_Delivery:
		return c.deliver(s, b.Delivery)
	case *moderatorv1.ModeratorMessage_Leave:
		if c.forget(b.Leave.GetChannelName()) != nil {
			c.emit(Event{Kind: Removed, Channel: b.Leave.GetChannelName(), Epoch: b.Leave.GetEpoch(), Reason: b.Leave.GetReason()})
		}
	case *moderatorv1.ModeratorMessage_Refused:
		r := b.Refused
		c.emit(Event{Kind: Refused, Channel: r.GetChannelName(), Of: r.GetKind(), Reason: r.GetReason()})
	default:
		c.log.Warn("unexpected message from the moderator", "type", fmt.Sprintf("%T", msg.GetBody()))
	}
	return nil
}

// deliver applies a commit, a Welcome or an application message and
// acknowledges it.
func (c *Client) deliver(s *session, d *moderatorv1.Delivery) error {
	ack := &moderatorv1.Ack{DeliveryId: d.GetDeliveryId()}
	var err error
	switch d.GetKind() {
	case moderatorv1.Delivery_KIND_WELCOME:
		ack.Joined, err = c.join(s, d)
	case moderatorv1.Delivery_KIND_COMMIT:
		err = c.apply(d)
	case moderatorv1.Delivery_KIND_APPLICATION:
		if s.firstTime(d.GetDeliveryId()) {
			err = c.apply(d)
		}
	default:
		err = fmt.Errorf("unknown delivery kind %d", d.GetKind())
	}
	if err != nil {
		c.log.Warn("could not apply a delivery", "channel", d.GetChannelName(), "kind", d.GetKind(), "epoch", d.GetEpoch(), "error", err)
		ack.Error = oneLine(err)
	}
	return s.send(&moderatorv1.MemberMessage{Body: &moderatorv1.MemberMessage_Ack{Ack: ack}})
}

// maxEarly bounds the messages held for a channel whose Welcome has not
// arrived yet.
const maxEarly = 256

// apply processes a commit or an application message for a membership.
func (c *Client) apply(d *moderatorv1.Delivery) error {
	channel := d.GetChannelName()
	c.mu.Lock()
	ms := c.memberships[channel]
	if ms == nil {
		defer c.mu.Unlock()
		for _, pj := range c.joins {
			if pj.channel == channel && len(c.early[channel]) < maxEarly {
				c.early[channel] = append(c.early[channel], d)
				return nil
			}
		}
		return fmt.Errorf("%s is not a member of channel %q", c.cfg.Name, channel)
	}
	c.mu.Unlock()

	ms.mu.Lock()
	var evs []member.Event
	var errs []error
	for _, m := range d.GetMessages() {
		got, err := ms.m.Receive(m)
		evs = append(evs, got...)
		if err != nil {
			errs = append(errs, err)
			break
		}
	}
	if d.GetKind() == moderatorv1.Delivery_KIND_APPLICATION {
		for _, e := range evs {
			if e.Kind == member.Application && d.GetSender() != "" {
				ms.senders[e.Sender] = d.GetSender()
			}
		}
	}
	removed := slices.ContainsFunc(evs, func(e member.Event) bool { return e.Kind == member.Removed })
	if !removed {
		if err := c.store.saveMembership(ms); err != nil {
			errs = append(errs, err)
		}
	}
	senders := maps.Clone(ms.senders)
	ms.mu.Unlock()

	for _, e := range evs {
		switch e.Kind {
		case member.Application:
			sender := senders[e.Sender]
			if sender == "" {
				sender = fmt.Sprintf("leaf %d", e.Sender)
			}
			c.emit(Event{Kind: Message, Channel: channel, Epoch: e.Epoch, Sender: sender, SenderLeaf: e.Sender, Data: e.Data})
		case member.Commit:
			c.emit(Event{Kind: Commit, Channel: channel, Epoch: e.Epoch, Reason: d.GetReason()})
		case member.Rotated:
			cred := ms.m.Credential()
			c.emit(Event{Kind: Rotated, Channel: channel, Epoch: e.Epoch, Subject: ms.subject, Key: fingerprint(cred.Signer.PublicKey()), ExpiresAt: cred.ExpiresAt})
		case member.Repropose:
			if err := c.publishOrQueue(channel, e.Data); err != nil {
				errs = append(errs, err)
			}
		case member.Removed:
			c.forget(channel)
			c.emit(Event{Kind: Removed, Channel: channel, Epoch: e.Epoch, Reason: d.GetReason()})
		}
	}
	return errors.Join(errs...)
}

func oneLine(err error) string {
	if err == nil {
		return ""
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}
