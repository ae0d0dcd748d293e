package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"

	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/member"
	"github.com/slimid/slimid/moderator/memberclient"
	"github.com/slimid/slimid/moderator/mls"
	moderatorv1 "github.com/slimid/slimid/sdk/proto/moderator/v1"
)

// stolenCredential is what an impostor builds: someone else's token
// credential beside a signature key of its own. The token binds the
// victim's key, so the moderator must refuse it.
func stolenCredential(req memberclient.JoinRequest, stolen mls.Credential) (memberclient.Credential, error) {
	signer, err := mls.GenerateSigner(req.Suite)
	if err != nil {
		return memberclient.Credential{}, err
	}
	return memberclient.Credential{Credential: member.Credential{Signer: signer, Credential: stolen}}, nil
}

// statusParts splits a gRPC error into its code, message and the verdict
// its ErrorInfo names.
func statusParts(err error) (code, message, verdict string) {
	st := status.Convert(err)
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			verdict = info.GetReason()
		}
	}
	return st.Code().String(), st.Message(), verdict
}

func hashOf(b []byte) []byte {
	sum := sha256.Sum256(b)
	return sum[:]
}

func (d *demo) refuseImpostor(ctx context.Context) error {
	bobLeaf := d.bob.membership().Leaf
	var stolen memberclient.Membership
	for _, m := range d.alice.membership().Members {
		if m.Leaf == bobLeaf {
			stolen.Credential.Credential = m.Credential
		}
	}
	if stolen.Credential.Credential.IsZero() {
		return errors.New("bob's leaf is not in alice's ratchet tree")
	}
	var impostorKey string
	mallory, err := d.w.startMember(ctx, "mallory", func(_ context.Context, req memberclient.JoinRequest) (memberclient.Credential, error) {
		cred, err := stolenCredential(req, stolen.Credential.Credential)
		impostorKey = moderator.Fingerprint(cred.Signer.PublicKey())
		return cred, err
	})
	if err != nil {
		return err
	}
	d.t.begin("impostor: %s copied bob's token from the group's ratchet tree and put it in a key package with its own key", mallory.participant())
	_, err = d.w.cm.AddParticipant(ctx, &moderatorv1.AddParticipantRequest{ChannelName: demoChannel, ParticipantName: mallory.participant()})
	if err == nil {
		return errors.New("the impostor was admitted")
	}
	code, reason, verdict := statusParts(err)
	if code != "Unauthenticated" || verdict != "KEY_MISMATCH" {
		return fmt.Errorf("AddParticipant failed with %s %s (%s), want Unauthenticated KEY_MISMATCH", code, verdict, reason)
	}
	told, err := mallory.find(what("mallory", "JoinRefused"), func(ev memberclient.Event) bool { return ev.Kind == memberclient.Refused })
	if err != nil {
		return err
	}
	if told.Reason != reason {
		return fmt.Errorf("mallory was told %q, the operator %q", told.Reason, reason)
	}
	g, err := d.w.svc.Moderator().Group(demoChannel)
	if err != nil {
		return err
	}
	if g.Epoch != 2 || g.Members != 4 {
		return fmt.Errorf("after the refusal the channel is at epoch %d with %d members, want 2 and 4", g.Epoch, g.Members)
	}
	d.t.detail("mallory's key %s; AddParticipant failed: %s (%s):", impostorKey, code, verdict)
	d.t.detail("  %s", reason)
	d.t.detail("mallory got JoinRefused with the same reason; the channel is unchanged (epoch 2, 4 members)")
	mallory.stop()
	return nil
}
