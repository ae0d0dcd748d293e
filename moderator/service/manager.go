package service

import (
	"context"
	"slices"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/member"
	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/moderator/policy"
	"github.com/slimid/slimid/sdk"
	moderatorv1 "github.com/slimid/slimid/sdk/proto/moderator/v1"
)

// manager serves SLIM's channel-manager API.
type manager struct {
	moderatorv1.UnimplementedChannelManagerServer
	s *Service
}

func (m *manager) CreateChannel(ctx context.Context, req *moderatorv1.CreateChannelRequest) (*moderatorv1.CreateChannelResponse, error) {
	info, err := m.s.createChannel(ctx, req)
	if err != nil {
		return nil, toStatus(err)
	}
	return &moderatorv1.CreateChannelResponse{Channel: m.s.channelProto(info)}, nil
}

func (s *Service) createChannel(ctx context.Context, req *moderatorv1.CreateChannelRequest) (moderator.GroupInfo, error) {
	name := req.GetChannelName()
	if !req.GetMlsEnabled() {
		return moderator.GroupInfo{}, badRequest("channel %q: mls_enabled is false, but slimid moderates MLS groups only; set mls_enabled to true", name)
	}
	if err := checkName("channel_name", name); err != nil {
		return moderator.GroupInfo{}, badRequest("%v", err)
	}
	suite := mls.Suite(req.GetSuite())
	if suite == 0 {
		suite = mls.SuiteP256AES128GCM
	}
	if req.GetSuite() > 0xffff || suite.Validate() != nil {
		return moderator.GroupInfo{}, badRequest("channel %q: suite %d is not supported; use 1, 2 (SLIM's default) or 3", name, req.GetSuite())
	}
	if len(req.GetPolicy()) > 0 {
		if _, err := policy.Parse(req.GetPolicy()); err != nil {
			return moderator.GroupInfo{}, badRequest("channel %q: policy: %v", name, err)
		}
	}
	if _, err := s.mod.Group(name); err == nil {
		return moderator.GroupInfo{}, kinded(moderator.ErrGroupExists, "channel %q exists already", name)
	}
	tokens := s.cfg.Moderator.Tokens
	if tokens == nil {
		return moderator.GroupInfo{}, sdk.Unavailable("the moderator has no token source for its own credential; configure Moderator.Tokens")
	}
	signer, err := mls.GenerateSigner(suite)
	if err != nil {
		return moderator.GroupInfo{}, err
	}
	cred, err := member.FetchToken(ctx, tokens, s.cfg.Plugin, signer, req.GetAudiences())
	if err != nil {
		return moderator.GroupInfo{}, err
	}
	info, err := s.mod.CreateGroup(ctx, moderator.GroupSpec{
		Name: name, Suite: suite, Policy: req.GetPolicy(), Audiences: req.GetAudiences(),
		Plugin: s.cfg.Plugin, Signer: signer, Credential: cred.Credential,
	})
	if err != nil {
		return moderator.GroupInfo{}, err
	}
	s.channelFor(name)
	s.log.Info("channel created", "channel", name, "suite", suite.String())
	return info, nil
}

func (m *manager) DeleteChannel(ctx context.Context, req *moderatorv1.DeleteChannelRequest) (*moderatorv1.DeleteChannelResponse, error) {
	s := m.s
	name := req.GetChannelName()
	if err := s.mod.DeleteGroup(ctx, name); err != nil {
		return nil, toStatus(err)
	}
	s.mu.Lock()
	st := s.channels[name]
	delete(s.channels, name)
	s.mu.Unlock()
	if st != nil {
		st.mu.Lock()
		st.deleted = true
		for subject, conn := range st.bound {
			conn.enqueue(&moderatorv1.ModeratorMessage{Body: &moderatorv1.ModeratorMessage_Leave{Leave: &moderatorv1.Leave{
				ChannelName: name, Reason: "channel deleted",
			}}})
			conn.clearBinding(name, subject)
		}
		st.bound = map[string]*conn{}
		st.entries = nil
		st.signal()
		st.mu.Unlock()
	}
	if err := s.names.forget(name, ""); err != nil {
		s.log.Warn("participant names not saved", "error", err)
	}
	s.log.Info("channel deleted", "channel", name)
	return &moderatorv1.DeleteChannelResponse{}, nil
}

func (m *manager) DeleteParticipant(ctx context.Context, req *moderatorv1.DeleteParticipantRequest) (*moderatorv1.DeleteParticipantResponse, error) {
	s := m.s
	ch := req.GetChannelName()
	subject, err := s.resolveParticipant(ch, req.GetParticipantName())
	if err != nil {
		return nil, toStatus(err)
	}
	reason := req.GetReason()
	if reason == "" {
		reason = "removed by an operator"
	}
	st := s.channelFor(ch)
	st.mu.Lock()
	st.removal[subject] = reason
	st.mu.Unlock()
	out, err := s.mod.Remove(ctx, ch, subject, reason)
	if err != nil {
		st.mu.Lock()
		delete(st.removal, subject)
		st.mu.Unlock()
		return nil, toStatus(err)
	}
	if err := s.names.forget(ch, subject); err != nil {
		s.log.Warn("participant names not saved", "error", err)
	}
	return &moderatorv1.DeleteParticipantResponse{Subject: subject, Epoch: out.Epoch}, nil
}

// resolveParticipant finds the subject a participant name stands for: the
// name it said Hello with, or the subject itself.
func (s *Service) resolveParticipant(channel, name string) (string, error) {
	roster, err := s.mod.Members(channel)
	if err != nil {
		return "", err
	}
	if subject, ok := s.names.subject(channel, name); ok {
		name = subject
	}
	var known []string
	for _, r := range roster {
		if r.Moderator {
			continue
		}
		if r.Subject == name {
			return r.Subject, nil
		}
		known = append(known, r.Subject)
	}
	if len(known) == 0 {
		known = []string{"none"}
	}
	return "", kinded(moderator.ErrNotMember, "no participant %q in channel %q (members: %s)", name, channel, strings.Join(known, ", "))
}

func (m *manager) ListChannels(_ context.Context, _ *moderatorv1.ListChannelsRequest) (*moderatorv1.ListChannelsResponse, error) {
	out := &moderatorv1.ListChannelsResponse{}
	for _, g := range m.s.mod.Groups() {
		out.Channels = append(out.Channels, m.s.channelProto(g))
	}
	return out, nil
}

func (m *manager) ListParticipants(_ context.Context, req *moderatorv1.ListParticipantsRequest) (*moderatorv1.ListParticipantsResponse, error) {
	s := m.s
	ch := req.GetChannelName()
	info, err := s.mod.Group(ch)
	if err != nil {
		return nil, toStatus(err)
	}
	roster, err := s.mod.Members(ch)
	if err != nil {
		return nil, toStatus(err)
	}
	out := &moderatorv1.ListParticipantsResponse{Epoch: info.Epoch}
	for _, r := range roster {
		out.Participants = append(out.Participants, s.participantProto(ch, r))
	}
	return out, nil
}

func (s *Service) channelProto(g moderator.GroupInfo) *moderatorv1.Channel {
	c := &moderatorv1.Channel{
		Name: g.Name, Suite: uint32(g.Suite), Epoch: g.Epoch, EpochAuthenticator: g.EpochAuthenticator,
		Members: uint32(g.Members), Audiences: slices.Clone(g.Audiences), HasPolicy: len(g.Policy) > 0,
		CreatedAt: timestamppb.New(g.CreatedAt),
	}
	if st := s.channel(g.Name); st != nil {
		c.UndeliveredCommits = uint32(st.undelivered())
	}
	return c
}

func (s *Service) participantProto(channel string, r moderator.Member) *moderatorv1.Participant {
	p := &moderatorv1.Participant{
		Name: s.names.name(channel, r.Subject), Subject: r.Subject, Provider: r.Provider, CredentialType: r.CredentialType,
		Issuer: r.Issuer, Leaf: r.Leaf, SignatureKey: r.SignatureKey, JoinedEpoch: r.JoinedEpoch, Moderator: r.Moderator,
	}
	if !r.ExpiresAt.IsZero() {
		p.ExpiresAt = timestamppb.New(r.ExpiresAt)
	}
	if !r.VerifiedAt.IsZero() {
		p.VerifiedAt = timestamppb.New(r.VerifiedAt)
	}
	if st := s.channel(channel); st != nil {
		p.Connected = st.connected(r.Subject)
	}
	return p
}

// notConnected is the error for a participant with no stream.
func notConnected(name string) error {
	return sdk.Unavailable("participant %q is not connected to the moderator; start it and try again", name)
}
