package service

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/moderator/service/proof"
	"github.com/slimid/slimid/sdk"
	moderatorv1 "github.com/slimid/slimid/sdk/proto/moderator/v1"
)

func (m *manager) AddParticipant(ctx context.Context, req *moderatorv1.AddParticipantRequest) (*moderatorv1.AddParticipantResponse, error) {
	res, err := m.s.addParticipants(ctx, req.GetChannelName(), []string{req.GetParticipantName()})
	if err != nil {
		return nil, toStatus(err)
	}
	r := res.results[0]
	if r.err != nil {
		return nil, toStatus(r.err)
	}
	return &moderatorv1.AddParticipantResponse{
		Participant: m.s.participantProto(req.GetChannelName(), *r.member), Epoch: res.epoch, WelcomeAcknowledged: r.welcomed,
	}, nil
}

func (m *manager) AddParticipants(ctx context.Context, req *moderatorv1.AddParticipantsRequest) (*moderatorv1.AddParticipantsResponse, error) {
	res, err := m.s.addParticipants(ctx, req.GetChannelName(), req.GetParticipantNames())
	if err != nil {
		return nil, toStatus(err)
	}
	out := &moderatorv1.AddParticipantsResponse{Epoch: res.epoch}
	for i, r := range res.results {
		ar := &moderatorv1.AddResult{ParticipantName: req.GetParticipantNames()[i], WelcomeAcknowledged: r.welcomed}
		if r.err != nil {
			ar.Code, ar.Reason, ar.ReasonCode = uint32(codeOf(r.err)), oneLine(r.err), sdk.ReasonCode(r.err)
		} else {
			ar.Participant = m.s.participantProto(req.GetChannelName(), *r.member)
		}
		out.Results = append(out.Results, ar)
	}
	return out, nil
}

// addResult is the outcome for one participant.
type addResult struct {
	member   *moderator.Member
	welcomed bool
	err      error
}

type addResults struct {
	epoch   uint64
	results []addResult
}

// offer is a key package a participant sent in answer to a JoinRequest,
// with its proof of possession checked.
type offer struct {
	conn   *conn
	id     uint64
	kp     []byte
	ref    mls.KeyPackageRef
	joined chan bool
}

// addParticipants runs SLIM's invite flow for several participants at once:
// a JoinRequest to each, their key packages admitted in one commit, the
// commit to the current members, then the Welcome to the newcomers.
func (s *Service) addParticipants(ctx context.Context, ch string, names []string) (*addResults, error) {
	if len(names) == 0 {
		return nil, badRequest("name at least one participant")
	}
	info, err := s.mod.Group(ch)
	if err != nil {
		return nil, err
	}
	roster, err := s.mod.Members(ch)
	if err != nil {
		return nil, err
	}
	inRoster := map[string]bool{}
	for _, r := range roster {
		inRoster[r.Subject] = true
	}
	res := &addResults{epoch: info.Epoch, results: make([]addResult, len(names))}
	seen := map[string]bool{}
	for i, n := range names {
		if err := checkName("participant_name", n); err != nil {
			res.results[i].err = badRequest("%v", err)
			continue
		}
		if seen[n] {
			res.results[i].err = badRequest("participant %q is named twice", n)
			continue
		}
		seen[n] = true
		if subject, ok := s.names.subject(ch, n); ok && inRoster[subject] {
			res.results[i].err = kinded(moderator.ErrAlreadyMember, "participant %q is already a member of channel %q (subject %q)", n, ch, subject)
		}
	}

	offers := make([]*offer, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		if res.results[i].err == nil {
			wg.Go(func() { offers[i], res.results[i].err = s.requestJoin(ctx, ch, info, n) })
		}
	}
	wg.Wait()
	var kps [][]byte
	var index []int
	for i, o := range offers {
		if o != nil && res.results[i].err == nil {
			o.joined = s.expectWelcome(o.conn, ch, o.ref)
			kps = append(kps, o.kp)
			index = append(index, i)
		}
	}
	if len(kps) == 0 {
		s.countOutcomes(res)
		return res, nil
	}
	adm, err := s.mod.Admit(ctx, ch, kps...)
	if err != nil {
		for _, i := range index {
			s.refuseJoin(offers[i], ch, err)
			res.results[i].err = err
		}
		s.countOutcomes(res)
		return res, nil
	}
	for _, r := range adm.Refused {
		i := index[r.Index]
		s.refuseJoin(offers[i], ch, r.Err)
		res.results[i].err = r.Err
		s.log.Info("participant refused", "channel", ch, "participant", names[i], "subject", r.Subject, "reason", oneLine(r.Err))
	}
	for _, a := range adm.Admitted {
		i := index[a.Index]
		res.results[i].member = &a.Member
		s.recordName(ch, a.Member.Subject, names[i])
	}
	res.epoch = adm.Epoch
	// Wait for the newcomers' acknowledgements: the Welcome goes out once
	// the current members settled the commit, and is retried like it.
	wait := time.NewTimer(2 * s.cfg.RetryInterval * time.Duration(s.cfg.MaxRetries+2))
	defer wait.Stop()
	for _, a := range adm.Admitted {
		i := index[a.Index]
		select {
		case ok := <-offers[i].joined:
			res.results[i].welcomed = ok
		case <-wait.C:
		case <-ctx.Done():
		case <-s.done:
		}
	}
	s.countOutcomes(res)
	return res, nil
}

func (s *Service) countOutcomes(res *addResults) {
	for _, r := range res.results {
		switch {
		case r.err == nil:
			s.metrics.admissions.WithLabelValues("admitted").Inc()
		case errors.Is(r.err, sdk.ErrRejected):
			s.metrics.admissions.WithLabelValues("refused").Inc()
		default:
			s.metrics.admissions.WithLabelValues("failed").Inc()
		}
	}
}

// requestJoin asks a participant for a key package and checks that the
// stream holds its signature key.
func (s *Service) requestJoin(ctx context.Context, ch string, info moderator.GroupInfo, name string) (*offer, error) {
	conn, err := s.waitConn(ctx, name)
	if err != nil {
		return nil, err
	}
	id := s.nextID()
	replies := make(chan outcome, 1)
	conn.deliver(&delivery{
		id: id, what: whatJoinRequest, channel: ch, subject: name, epoch: info.Epoch,
		msg: &moderatorv1.ModeratorMessage{Body: &moderatorv1.ModeratorMessage_JoinRequest{JoinRequest: &moderatorv1.JoinRequest{
			RequestId: id, ChannelName: ch, Suite: uint32(info.Suite), Audiences: info.Audiences, Plugin: info.Plugin,
		}}},
		settle: func(o outcome) { replies <- o },
	})
	var o outcome
	select {
	case o = <-replies:
	case <-ctx.Done():
		conn.forget(id)
		return nil, ctx.Err()
	case <-s.done:
		conn.forget(id)
		return nil, errStopping
	}
	switch {
	case errors.Is(o.err, errUnresponsive):
		return nil, sdk.Unavailable("participant %q did not answer the join request after %d tries", name, s.cfg.MaxRetries+1)
	case o.err != nil:
		return nil, sdk.Unavailable("participant %q left before answering the join request: %v", name, o.err)
	case o.reply.GetError() != "":
		return nil, sdk.Unavailable("participant %q cannot join: %s", name, o.reply.GetError())
	}
	of := &offer{conn: conn, id: id, kp: o.reply.GetKeyPackage()}
	kp, err := mls.DecodeKeyPackage(of.kp)
	if err != nil {
		err = sdk.Reject(sdk.ErrInvalid, "participant %q sent a key package that does not decode: %v", name, err)
		s.refuseJoin(of, ch, err)
		return nil, err
	}
	if kp.Suite() != info.Suite {
		err = sdk.Reject(sdk.ErrInvalid, "participant %q sent a key package for suite %s; channel %q uses %s", name, kp.Suite(), ch, info.Suite)
		s.refuseJoin(of, ch, err)
		return nil, err
	}
	st := proof.KeyPackage(conn.nonce, conn.name, ch, kp.Ref())
	if err := proof.Verify(info.Suite, kp.SignatureKey(), st, o.reply.GetSignature()); err != nil {
		err = sdk.Reject(sdk.ErrInvalid, "participant %q did not prove it holds the key package's signature key %s: %v",
			name, moderator.Fingerprint(kp.SignatureKey()), err)
		s.refuseJoin(of, ch, err)
		return nil, err
	}
	of.ref = kp.Ref()
	return of, nil
}

// refuseJoin tells a participant why it was not admitted.
func (s *Service) refuseJoin(o *offer, ch string, err error) {
	if o.ref != (mls.KeyPackageRef{}) {
		s.unexpectWelcome(o.ref)
	}
	o.conn.enqueue(&moderatorv1.ModeratorMessage{Body: &moderatorv1.ModeratorMessage_JoinRefused{JoinRefused: &moderatorv1.JoinRefused{
		RequestId: o.id, ChannelName: ch, Reason: oneLine(err), ReasonCode: sdk.ReasonCode(err),
	}}})
}
