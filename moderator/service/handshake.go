package service

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/moderator/service/proof"
	moderatorv1 "github.com/slimid/slimid/sdk/proto/moderator/v1"
)

// accepted is a membership a stream proved.
type accepted struct {
	channel string
	subject string
	leaf    uint32
	epoch   uint64
}

// verifyMemberships checks each membership a Hello claims against the
// roster: the leaf must still carry the key the member names, and the
// proof must be signed by it over this stream's challenge.
func (s *Service) verifyMemberships(c *conn, hello *moderatorv1.Hello, pr *moderatorv1.Proof) ([]accepted, *moderatorv1.Ready) {
	ready := &moderatorv1.Ready{}
	var out []accepted
	seen := map[string]bool{}
	for i, claim := range hello.GetMemberships() {
		ch := claim.GetChannelName()
		p := pr.GetMemberships()[i]
		refuse := func(ended bool, format string, args ...any) {
			ready.Refused = append(ready.Refused, &moderatorv1.MembershipRefusal{ChannelName: ch, Reason: fmt.Sprintf(format, args...), Ended: ended})
		}
		switch {
		case seen[ch]:
			refuse(false, "channel %q is claimed twice in one Hello; only the first claim counts", ch)
			continue
		case p.GetChannelName() != ch || p.GetLeaf() != claim.GetLeaf():
			refuse(false, "proof %d is for leaf %d of %q, the Hello claims leaf %d of %q", i, p.GetLeaf(), p.GetChannelName(), claim.GetLeaf(), ch)
			continue
		}
		seen[ch] = true
		r, info, err := s.leafOf(ch, claim.GetLeaf())
		switch {
		case errors.Is(err, moderator.ErrUnknownGroup):
			refuse(true, "channel %q does not exist any more", ch)
			continue
		case err != nil:
			refuse(false, "channel %q: %s", ch, oneLine(err))
			continue
		case r == nil || r.Moderator || !bytes.Equal(r.SignatureKey, claim.GetSignatureKey()):
			refuse(true, "leaf %d of channel %q does not hold this participant's key any more: it was removed from the channel", claim.GetLeaf(), ch)
			continue
		}
		st := proof.Membership(c.nonce, c.name, ch, claim.GetLeaf())
		if err := proof.Verify(info.Suite, r.SignatureKey, st, p.GetSignature()); err != nil {
			s.log.Warn("membership proof refused", "participant", c.name, "channel", ch, "leaf", claim.GetLeaf(), "error", err)
			refuse(false, "the proof for leaf %d of channel %q: %v", claim.GetLeaf(), ch, err)
			continue
		}
		out = append(out, accepted{channel: ch, subject: r.Subject, leaf: claim.GetLeaf(), epoch: min(claim.GetEpoch(), info.Epoch)})
		ready.Accepted = append(ready.Accepted, &moderatorv1.ChannelEpoch{ChannelName: ch, Epoch: info.Epoch})
	}
	return out, ready
}

// leafOf returns the roster entry at a leaf (nil if none) and the group.
func (s *Service) leafOf(channel string, leaf uint32) (*moderator.Member, moderator.GroupInfo, error) {
	info, err := s.mod.Group(channel)
	if err != nil {
		return nil, info, err
	}
	roster, err := s.mod.Members(channel)
	if err != nil {
		return nil, info, err
	}
	for i := range roster {
		if roster[i].Leaf == leaf {
			return &roster[i], info, nil
		}
	}
	return nil, info, nil
}

// welcomeOutcome binds a newcomer's stream once it acknowledged its
// Welcome with a proof for its new leaf.
func (s *Service) welcomeOutcome(c *channel, epoch uint64, refs []mls.KeyPackageRef, conn *conn, o outcome) {
	fail := func(reason string, args ...any) {
		for _, ref := range refs {
			s.welcomed(ref, conn, false)
		}
		s.log.Warn("Welcome not acknowledged; the participant gets it again when it reconnects",
			"channel", c.name, "participant", conn.name, "epoch", epoch, "reason", fmt.Sprintf(reason, args...))
	}
	switch {
	case o.err != nil:
		fail("%v", o.err)
		return
	case o.ack.GetError() != "":
		fail("the participant could not join: %s", o.ack.GetError())
		return
	}
	j := o.ack.GetJoined()
	if j.GetChannelName() != c.name {
		fail("the acknowledgement carries no proof for channel %q", c.name)
		return
	}
	r, info, err := s.leafOf(c.name, j.GetLeaf())
	if err != nil || r == nil || r.Moderator {
		fail("leaf %d is not a member of the channel", j.GetLeaf())
		return
	}
	if err := proof.Verify(info.Suite, r.SignatureKey, proof.Membership(conn.nonce, conn.name, c.name, j.GetLeaf()), j.GetSignature()); err != nil {
		fail("leaf %d: %v", j.GetLeaf(), err)
		return
	}
	c.mu.Lock()
	var e *entry
	for _, x := range c.entries {
		if x.out.Epoch == epoch {
			e = x
		}
	}
	newcomer := e != nil && e.welcomeOwed[r.Subject]
	if newcomer {
		delete(e.welcomeOwed, r.Subject)
	}
	c.mu.Unlock()
	if e != nil && !newcomer && !c.connected(r.Subject) {
		fail("leaf %d (%s) is not a newcomer of epoch %d", j.GetLeaf(), r.Subject, epoch)
		return
	}
	if err := c.bind(r.Subject, r.Leaf, conn, epoch); err != nil {
		fail("%v", err)
		return
	}
	s.recordName(c.name, r.Subject, conn.name)
	for _, ref := range refs {
		s.welcomed(ref, conn, true)
	}
	s.log.Info("participant joined", "channel", c.name, "participant", conn.name, "subject", r.Subject, "leaf", r.Leaf, "epoch", epoch)
}
