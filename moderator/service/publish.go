package service

import (
	"fmt"

	"github.com/slimid/slimid/moderator/mls"
	moderatorv1 "github.com/slimid/slimid/sdk/proto/moderator/v1"
)

// senderMember is RFC 9420's SenderType for a member.
const senderMember = 1

// publish handles an MLS message a member sent to its channel: an Update
// proposal goes to the moderator, which commits it (the commit reaches
// everyone through OnCommit); an application message is decrypted to check
// that its sender is the member this stream speaks for, then fanned out to
// the other members.
func (s *Service) publish(c *conn, p *moderatorv1.Publish) {
	ch := p.GetChannelName()
	kind := "message"
	refuse := func(format string, args ...any) {
		s.metrics.refusedPubs.Inc()
		reason := fmt.Sprintf(format, args...)
		s.log.Info("message from a member dropped", "participant", c.name, "channel", ch, "kind", kind, "reason", reason)
		c.enqueue(&moderatorv1.ModeratorMessage{Body: &moderatorv1.ModeratorMessage_Refused{Refused: &moderatorv1.Refused{
			ChannelName: ch, Reason: reason, Kind: kind,
		}}})
	}
	b, ok := c.bindingFor(ch)
	if !ok {
		refuse("this stream speaks for no member of channel %q: join it, or prove the membership in Hello", ch)
		return
	}
	h, err := mls.ParseHeader(p.GetMessage())
	if err != nil {
		refuse("%v", err)
		return
	}
	if h.ContentType == mls.ContentProposal {
		kind = "update"
	}
	if h.WireFormat == mls.WirePublicMessage && (h.SenderType != senderMember || h.Sender != b.leaf) {
		refuse("the message is signed for leaf %d; this stream speaks for leaf %d", h.Sender, b.leaf)
		return
	}
	got, err := s.mod.HandleMessage(c.ctx, ch, p.GetMessage())
	if err != nil {
		refuse("%s", oneLine(err))
		return
	}
	if got.Sender != b.subject {
		// A private message hides its sender until decrypted.
		s.log.Warn("a stream sent another member's message", "participant", c.name, "channel", ch, "speaks_for", b.subject, "sender", got.Sender)
		if got.Kind == mls.KindApplication {
			refuse("the message is from %q; this stream speaks for %q", got.Sender, b.subject)
		}
		return
	}
	if got.Kind == mls.KindApplication {
		s.fanout(ch, b.subject, h.Epoch, p.GetMessage())
	}
}

// fanout sends an application message to every connected member but its
// sender. Application messages are not stored: a member offline misses
// them, as in SLIM.
func (s *Service) fanout(channel, sender string, epoch uint64, msg []byte) {
	st := s.channel(channel)
	if st == nil {
		return
	}
	for subject, conn := range st.members(sender) {
		id := s.nextID()
		conn.deliver(&delivery{
			id: id, what: whatApplication, channel: channel, subject: subject, epoch: epoch,
			msg: &moderatorv1.ModeratorMessage{Body: &moderatorv1.ModeratorMessage_Delivery{Delivery: &moderatorv1.Delivery{
				DeliveryId: id, ChannelName: channel, Kind: moderatorv1.Delivery_KIND_APPLICATION, Epoch: epoch,
				Messages: [][]byte{msg}, Sender: sender,
			}}},
			settle: func(o outcome) {
				if o.err == nil && o.ack.GetError() != "" {
					s.log.Warn("member could not read an application message", "channel", channel, "subject", subject, "sender", sender, "error", o.ack.GetError())
				}
			},
		})
	}
}
