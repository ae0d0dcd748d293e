package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/slimid/slimid/moderator/memberclient"
	moderatorv1 "github.com/slimid/slimid/sdk/proto/moderator/v1"
)

func (d *demo) rotate(ctx context.Context) error {
	before := d.bob.membership().Credential
	d.t.begin("bob renews his token: Update proposal -> the moderator verifies it (same subject, same key) and commits it")
	if err := d.bob.client.Rotate(ctx, demoChannel); err != nil {
		return err
	}
	rotated, err := d.bob.find(what("bob", "rotation committed"), func(ev memberclient.Event) bool { return ev.Kind == memberclient.Rotated })
	if err != nil {
		return err
	}
	if rotated.Epoch != 3 {
		return fmt.Errorf("bob's Update was committed at epoch %d, want 3", rotated.Epoch)
	}
	for _, m := range []*demoMember{d.alice, d.carol} {
		if err := committed(m, 3); err != nil {
			return err
		}
	}
	after := d.bob.membership().Credential
	if after.Credential.Equal(before.Credential) {
		return errors.New("bob's credential did not change")
	}
	auth, err := d.sameAuthenticator(3, d.alice, d.bob, d.carol)
	if err != nil {
		return err
	}
	d.t.detail("token %s -> %s, key %s kept, valid until %s", short(hashOf(before.Credential.Identity())), short(hashOf(after.Credential.Identity())),
		rotated.Key, after.ExpiresAt.UTC().Format("15:04:05 UTC"))
	d.t.detail("committed at epoch 3; authenticator %s, the same for the moderator, alice, bob and carol", auth)
	return nil
}

func (d *demo) remove(ctx context.Context) error {
	d.t.begin("DeleteParticipant %s: a commit to the others, then a Leave to carol", d.carol.participant())
	res, err := d.w.cm.DeleteParticipant(ctx, &moderatorv1.DeleteParticipantRequest{ChannelName: demoChannel, ParticipantName: d.carol.participant(), Reason: "left the demo"})
	if err != nil {
		return err
	}
	if res.GetEpoch() != 4 {
		return fmt.Errorf("carol was removed at epoch %d, want 4", res.GetEpoch())
	}
	gone, err := d.carol.find(what("carol", "removed"), func(ev memberclient.Event) bool { return ev.Kind == memberclient.Removed })
	if err != nil {
		return err
	}
	for _, m := range []*demoMember{d.alice, d.bob} {
		if err := committed(m, 4); err != nil {
			return err
		}
	}
	if _, still := d.carol.client.Membership(demoChannel); still {
		return errors.New("carol still holds the membership")
	}
	d.t.detail("removed %s at epoch 4; carol was told: %s", res.GetSubject(), gone.Reason)
	return nil
}

func (d *demo) afterRemoval(ctx context.Context) error {
	d.t.begin("messages after the removal reach the remaining members only")
	text := "carol has left"
	if err := d.say(ctx, d.alice, text, d.bob); err != nil {
		return err
	}
	if d.carol.has(func(ev memberclient.Event) bool { return string(ev.Data) == text }) {
		return errors.New("carol received a message sent after her removal")
	}
	auth, err := d.sameAuthenticator(4, d.alice, d.bob)
	if err != nil {
		return err
	}
	d.t.detail("carol received nothing; epoch 4 authenticator %s, the same for the moderator, alice and bob", auth)
	return nil
}
