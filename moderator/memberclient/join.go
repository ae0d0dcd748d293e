package memberclient

import (
	"context"
	"fmt"

	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/member"
	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/moderator/service/proof"
	"github.com/slimid/slimid/sdk"
	moderatorv1 "github.com/slimid/slimid/sdk/proto/moderator/v1"
)

// answerJoin answers a JoinRequest with a key package and the proof that
// this stream holds its key; a re-sent request gets the same answer.
func (c *Client) answerJoin(ctx context.Context, s *session, r *moderatorv1.JoinRequest) error {
	c.mu.Lock()
	pj := c.byRequest[r.GetRequestId()]
	_, isMember := c.memberships[r.GetChannelName()]
	c.mu.Unlock()
	if pj != nil {
		return s.send(&moderatorv1.MemberMessage{Body: &moderatorv1.MemberMessage_JoinReply{JoinReply: pj.reply}})
	}
	decline := func(err error) error {
		c.log.Warn("cannot join", "channel", r.GetChannelName(), "error", err)
		c.emit(Event{Kind: Refused, Channel: r.GetChannelName(), Of: "join", Reason: oneLine(err)})
		return s.send(&moderatorv1.MemberMessage{Body: &moderatorv1.MemberMessage_JoinReply{JoinReply: &moderatorv1.JoinReply{
			RequestId: r.GetRequestId(), Error: oneLine(err),
		}}})
	}
	if isMember {
		return decline(fmt.Errorf("%s is already a member of channel %q", c.cfg.Name, r.GetChannelName()))
	}
	req := JoinRequest{Channel: r.GetChannelName(), Suite: mls.Suite(r.GetSuite()), Audiences: r.GetAudiences(), Plugin: r.GetPlugin()}
	if r.GetSuite() > 0xffff || req.Suite.Validate() != nil {
		return decline(fmt.Errorf("channel %q uses suite %d, which this member does not support", req.Channel, r.GetSuite()))
	}
	pj, err := c.prepareJoin(ctx, req)
	if err != nil {
		return decline(err)
	}
	ref := pj.bundle.KeyPackage().Ref()
	sig, err := proof.Sign(pj.bundle.Signer(), proof.KeyPackage(s.nonce, c.cfg.Name, req.Channel, ref))
	if err != nil {
		return decline(err)
	}
	pj.reply = &moderatorv1.JoinReply{RequestId: r.GetRequestId(), KeyPackage: pj.bundle.KeyPackage().Bytes(), Signature: sig}
	if err := c.store.saveJoin(pj); err != nil {
		return decline(err)
	}
	c.mu.Lock()
	c.joins[ref] = pj
	c.byRequest[r.GetRequestId()] = pj
	c.mu.Unlock()
	c.emit(Event{Kind: KeyPackageSent, Channel: req.Channel, Subject: pj.subject, Key: fingerprint(pj.cred.Signer.PublicKey()), ExpiresAt: pj.cred.ExpiresAt})
	return s.send(&moderatorv1.MemberMessage{Body: &moderatorv1.MemberMessage_JoinReply{JoinReply: pj.reply}})
}

// prepareJoin makes the credential and key package for a channel.
func (c *Client) prepareJoin(ctx context.Context, req JoinRequest) (*pendingJoin, error) {
	newCredential := c.cfg.Credential
	if newCredential == nil {
		newCredential = c.tokenCredential
	}
	cred, err := newCredential(ctx, req)
	if err != nil {
		return nil, err
	}
	if cred.Signer == nil {
		return nil, fmt.Errorf("the credential has no signature key")
	}
	bundle, err := cred.KeyPackage()
	if err != nil {
		return nil, err
	}
	return &pendingJoin{channel: req.Channel, bundle: bundle, cred: cred.Credential, subject: cred.Subject,
		plugin: c.cfg.Plugin, audiences: req.Audiences}, nil
}

// tokenCredential is the default credential: a fresh key for the channel's
// suite and a token bound to it, as SLIM does.
func (c *Client) tokenCredential(ctx context.Context, req JoinRequest) (Credential, error) {
	signer, err := mls.GenerateSigner(req.Suite)
	if err != nil {
		return Credential{}, err
	}
	tok, err := c.cfg.Tokens.FetchToken(ctx, c.cfg.Plugin, sdk.TokenRequest{PublicKey: signer.PublicKey(), Audiences: req.Audiences})
	if err != nil {
		return Credential{}, fmt.Errorf("fetching a token from plugin %q: %w", c.cfg.Plugin, err)
	}
	cred, err := mls.NewBasicCredential([]byte(tok.Value))
	if err != nil {
		return Credential{}, err
	}
	return Credential{
		Credential: member.Credential{Signer: signer, Credential: cred, IssuedAt: tok.IssuedAt, ExpiresAt: tok.ExpiresAt},
		Subject:    tok.Subject,
	}, nil
}

// joinRefused forgets a key package the moderator refused.
func (c *Client) joinRefused(r *moderatorv1.JoinRefused) {
	c.mu.Lock()
	pj := c.byRequest[r.GetRequestId()]
	if pj != nil {
		delete(c.byRequest, r.GetRequestId())
		ref := pj.bundle.KeyPackage().Ref()
		delete(c.joins, ref)
		if err := c.store.deleteJoin(ref); err != nil {
			c.log.Warn("could not delete a refused key package", "error", err)
		}
	}
	c.mu.Unlock()
	c.emit(Event{Kind: Refused, Channel: r.GetChannelName(), Of: "join", Reason: r.GetReason(), Code: r.GetReasonCode()})
}

// join applies a Welcome for one of the key packages sent, and returns the
// proof that this stream holds the new leaf's key.
func (c *Client) join(s *session, d *moderatorv1.Delivery) (*moderatorv1.MembershipProof, error) {
	if len(d.GetMessages()) != 1 {
		return nil, fmt.Errorf("a Welcome delivery carries %d messages, not 1", len(d.GetMessages()))
	}
	welcome := d.GetMessages()[0]
	h, err := mls.ParseHeader(welcome)
	if err != nil {
		return nil, err
	}
	if h.WireFormat != mls.WireWelcome {
		return nil, fmt.Errorf("a %s is not a Welcome", h.WireFormat)
	}
	channel := d.GetChannelName()
	c.mu.Lock()
	var pj *pendingJoin
	var ref mls.KeyPackageRef
	for _, r := range h.Recipients {
		if p := c.joins[r]; p != nil && p.channel == channel {
			pj, ref = p, r
		}
	}
	existing := c.memberships[channel]
	c.mu.Unlock()
	if pj == nil {
		if existing != nil {
			return c.membershipProof(s, existing) // a Welcome sent again
		}
		return nil, fmt.Errorf("the Welcome to channel %q names none of the key packages %s sent", channel, c.cfg.Name)
	}
	m, err := member.Join(welcome, pj.bundle, pj.cred)
	if err != nil {
		return nil, err
	}
	if string(m.GroupID()) != channel {
		return nil, fmt.Errorf("the Welcome is for group %q, delivered as channel %q", m.GroupID(), channel)
	}
	ms := newMembership(channel, m, pj.subject, pj.plugin, pj.audiences)
	if err := c.store.saveMembership(ms); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.memberships[channel] = ms
	for r, p := range c.joins {
		if p.channel == channel {
			delete(c.joins, r)
			if err := c.store.deleteJoin(r); err != nil {
				c.log.Warn("could not delete a used key package", "error", err)
			}
		}
	}
	early := c.early[channel]
	delete(c.early, channel)
	if c.rotations != nil {
		c.startRotation(c.rotations, ms)
	}
	c.mu.Unlock()
	c.log.Info("joined", "channel", channel, "leaf", m.Leaf(), "epoch", m.Epoch(), "key_package", refHex(ref))
	cred := m.Credential()
	c.emit(Event{Kind: Joined, Channel: channel, Epoch: m.Epoch(), Leaf: m.Leaf(), Subject: pj.subject,
		Key: fingerprint(cred.Signer.PublicKey()), ExpiresAt: cred.ExpiresAt})
	for _, e := range early {
		if err := c.apply(e); err != nil {
			c.log.Warn("could not apply a message held for the Welcome", "channel", channel, "error", err)
		}
	}
	return c.membershipProof(s, ms)
}

// membershipProof proves, on this stream, that the client holds its leaf's
// key in a channel.
func (c *Client) membershipProof(s *session, ms *membership) (*moderatorv1.MembershipProof, error) {
	ms.mu.Lock()
	leaf, epoch, signer := uint32(ms.m.Leaf()), ms.m.Epoch(), ms.m.Credential().Signer
	ms.mu.Unlock()
	sig, err := proof.Sign(signer, proof.Membership(s.nonce, c.cfg.Name, ms.channel, leaf))
	if err != nil {
		return nil, err
	}
	return &moderatorv1.MembershipProof{ChannelName: ms.channel, Leaf: leaf, Epoch: epoch, Signature: sig}, nil
}

// fingerprint names a key briefly, as the moderator does.
func fingerprint(key []byte) string { return moderator.Fingerprint(key) }
