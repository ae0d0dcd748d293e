package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/memberclient"
	moderatorv1 "github.com/slimid/slimid/sdk/proto/moderator/v1"
)

func newDemoCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Run a broker, a moderator and three members in one process, and check every step",
		Long: `Run, in this process and with nothing configured, a broker with the built-in
shared-secret plugin (a fresh secret in a temporary directory, removed at exit;
your state directory is not touched), a moderator serving gRPC on a unix
socket, and three members (alice, bob, carol) connected to it over that
socket. The demo admits the members, exchanges messages, refuses an impostor
holding a stolen token, renews a credential and removes a member, printing
each step. It checks itself: the exit status is 0 only if every step behaved
as expected.`,
		Args: cobra.NoArgs,
		RunE: runDemo,
	}
}

func runDemo(cmd *cobra.Command, _ []string) error {
	start := time.Now()
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	out := cmd.OutOrStdout()
	w, err := newDemoWorld(cmd)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer w.close()
	fmt.Fprintf(out, "slimid demo: a broker, a moderator and three members (alice, bob, carol) in one process.\n")
	fmt.Fprintf(out, "State: a fresh shared secret in the temporary directory %s, removed at exit.\n\n", w.dir)
	d := &demo{w: w, t: &transcript{w: out}}
	steps := []func(context.Context) error{
		d.startBroker, d.startModerator, d.createChannel, d.connectMembers, d.admitFirst, d.admitLater,
		d.listParticipants, d.exchangeMessages, d.refuseImpostor, d.rotate, d.remove, d.afterRemoval,
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			fmt.Fprintf(out, "    FAILED: %s\n", oneLine(err))
			return fmt.Errorf("demo failed at step %d: %s", d.t.step, oneLine(err))
		}
	}
	g, err := w.svc.Moderator().Group(demoChannel)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\ndemo passed: %d steps in %s; %s at epoch %d, epoch authenticator %s shared by the moderator, alice and bob; 1 impostor refused\n",
		d.t.step, time.Since(start).Round(time.Millisecond), demoChannel, g.Epoch, short(g.EpochAuthenticator))
	return nil
}

// demo holds the members and what the steps learned.
type demo struct {
	w                 *demoWorld
	t                 *transcript
	alice, bob, carol *demoMember
}

func (d *demo) startBroker(context.Context) error {
	d.t.begin("broker started with the built-in shared_secret plugin: entry %q (the moderator's identity; it verifies everyone's tokens) and one entry per member: alice, bob, carol", defaultPlugin)
	return nil
}

func (d *demo) startModerator(ctx context.Context) error {
	if err := d.w.serve(ctx); err != nil {
		return err
	}
	d.t.begin("moderator serving SLIM's channel manager and the members' Moderator service (gRPC) on unix://%s", d.w.socket)
	return nil
}

func (d *demo) createChannel(ctx context.Context) error {
	res, err := d.w.cm.CreateChannel(ctx, &moderatorv1.CreateChannelRequest{ChannelName: demoChannel, MlsEnabled: true})
	if err != nil {
		return err
	}
	ch := res.GetChannel()
	roster, err := d.w.svc.Moderator().Members(demoChannel)
	if err != nil {
		return err
	}
	if ch.GetEpoch() != 0 || ch.GetMembers() != 1 || len(roster) != 1 {
		return fmt.Errorf("the new channel is at epoch %d with %d members, want epoch 0 and the moderator alone", ch.GetEpoch(), ch.GetMembers())
	}
	d.t.begin("channel %s created (MLS suite 0x%04x): epoch 0, its first member the moderator %s, key %s", demoChannel, ch.GetSuite(), roster[0].Subject, moderator.Fingerprint(roster[0].SignatureKey))
	return nil
}

func (d *demo) connectMembers(ctx context.Context) error {
	var err error
	if d.alice, err = d.w.startMember(ctx, "alice", nil); err != nil {
		return err
	}
	if d.bob, err = d.w.startMember(ctx, "bob", nil); err != nil {
		return err
	}
	if d.carol, err = d.w.startMember(ctx, "carol", nil); err != nil {
		return err
	}
	d.t.begin("alice, bob and carol connected to the moderator (Hello, challenge, proof)")
	return nil
}

// keyPackageDetail reports the token a member fetched for its key package.
func (d *demo) keyPackageDetail(m *demoMember) error {
	ev, err := m.find(what(m.name, "key package sent"), func(ev memberclient.Event) bool { return ev.Kind == memberclient.KeyPackageSent })
	if err != nil {
		return err
	}
	d.t.detail("%s: token for %s bound to its new key %s; key package sent", m.name, ev.Subject, ev.Key)
	return nil
}

// joined checks that a member applied its Welcome at the epoch.
func joined(m *demoMember, epoch uint64) (memberclient.Event, error) {
	return m.find(what(m.name, fmt.Sprintf("joined at epoch %d", epoch)), func(ev memberclient.Event) bool {
		return ev.Kind == memberclient.Joined && ev.Epoch == epoch
	})
}

// committed checks that a member applied the commit to the epoch.
func committed(m *demoMember, epoch uint64) error {
	return m.wait(what(m.name, fmt.Sprintf("commit to epoch %d applied", epoch)), func(ev memberclient.Event) bool {
		return ev.Kind == memberclient.Commit && ev.Epoch == epoch
	})
}

func (d *demo) admitFirst(ctx context.Context) error {
	d.t.begin("AddParticipants %s, %s: each gets a JoinRequest and answers with a key package", d.alice.participant(), d.bob.participant())
	res, err := d.w.cm.AddParticipants(ctx, &moderatorv1.AddParticipantsRequest{
		ChannelName: demoChannel, ParticipantNames: []string{d.alice.participant(), d.bob.participant()},
	})
	if err != nil {
		return err
	}
	for _, m := range []*demoMember{d.alice, d.bob} {
		if err := d.keyPackageDetail(m); err != nil {
			return err
		}
	}
	for _, r := range res.GetResults() {
		if r.GetReason() != "" || !r.GetWelcomeAcknowledged() {
			return fmt.Errorf("%s was not admitted: %s", r.GetParticipantName(), r.GetReason())
		}
	}
	if res.GetEpoch() != 1 {
		return fmt.Errorf("alice and bob were admitted at epoch %d, want 1: one commit for both", res.GetEpoch())
	}
	a, err := joined(d.alice, 1)
	if err != nil {
		return err
	}
	b, err := joined(d.bob, 1)
	if err != nil {
		return err
	}
	d.t.detail("verified, bound, admitted: one commit to epoch 1 and one Welcome; alice joined at leaf %d, bob at leaf %d", a.Leaf, b.Leaf)
	return nil
}

func (d *demo) admitLater(ctx context.Context) error {
	d.t.begin("AddParticipant %s: a later commit", d.carol.participant())
	res, err := d.w.cm.AddParticipant(ctx, &moderatorv1.AddParticipantRequest{ChannelName: demoChannel, ParticipantName: d.carol.participant()})
	if err != nil {
		return err
	}
	if err := d.keyPackageDetail(d.carol); err != nil {
		return err
	}
	if res.GetEpoch() != 2 || !res.GetWelcomeAcknowledged() {
		return fmt.Errorf("carol was admitted at epoch %d (Welcome acknowledged: %v), want 2", res.GetEpoch(), res.GetWelcomeAcknowledged())
	}
	for _, m := range []*demoMember{d.alice, d.bob} {
		if err := committed(m, 2); err != nil {
			return err
		}
	}
	c, err := joined(d.carol, 2)
	if err != nil {
		return err
	}
	d.t.detail("commit to epoch 2 acknowledged by alice and bob, then the Welcome to carol, who joined at leaf %d", c.Leaf)
	auth, err := d.sameAuthenticator(2, d.alice, d.bob, d.carol)
	if err != nil {
		return err
	}
	d.t.detail("epoch 2 authenticator %s, the same for the moderator, alice, bob and carol", auth)
	return nil
}

// sameAuthenticator checks that the members agree with the moderator on
// the epoch and its authenticator.
func (d *demo) sameAuthenticator(epoch uint64, members ...*demoMember) (string, error) {
	g, err := d.w.svc.Moderator().Group(demoChannel)
	if err != nil {
		return "", err
	}
	if g.Epoch != epoch {
		return "", fmt.Errorf("the moderator is at epoch %d, want %d", g.Epoch, epoch)
	}
	for _, m := range members {
		ms := m.membership()
		if ms.Epoch != epoch || !bytes.Equal(ms.EpochAuthenticator, g.EpochAuthenticator) {
			return "", fmt.Errorf("%s is at epoch %d with authenticator %s; the moderator at %d with %s", m.name, ms.Epoch, short(ms.EpochAuthenticator), g.Epoch, short(g.EpochAuthenticator))
		}
	}
	return short(g.EpochAuthenticator), nil
}

func (d *demo) listParticipants(ctx context.Context) error {
	res, err := d.w.cm.ListParticipants(ctx, &moderatorv1.ListParticipantsRequest{ChannelName: demoChannel})
	if err != nil {
		return err
	}
	d.t.begin("ListParticipants %s: the verified identity recorded for each member", demoChannel)
	d.t.detail("%-4s  %-14s  %-26s  %-8s  %-10s  %s", "leaf", "participant", "subject", "provider", "credential", "expires")
	for _, p := range res.GetParticipants() {
		name := p.GetName()
		if p.GetModerator() {
			name = "(moderator)"
		} else if !p.GetConnected() {
			return fmt.Errorf("%s is not connected", p.GetSubject())
		}
		d.t.detail("%-4d  %-14s  %-26s  %-8s  %-10s  %s", p.GetLeaf(), name, p.GetSubject(), p.GetProvider(), p.GetCredentialType(),
			p.GetExpiresAt().AsTime().UTC().Format("15:04:05 UTC"))
	}
	if len(res.GetParticipants()) != 4 {
		return fmt.Errorf("%d participants, want 4", len(res.GetParticipants()))
	}
	return nil
}

// say sends a message and checks who decrypted it.
func (d *demo) say(ctx context.Context, from *demoMember, text string, to ...*demoMember) error {
	if err := from.client.Send(ctx, demoChannel, []byte(text)); err != nil {
		return err
	}
	subject := from.membership().Subject
	var names []string
	for _, m := range to {
		if err := m.wait(what(m.name, fmt.Sprintf("%q received", text)), func(ev memberclient.Event) bool {
			return ev.Kind == memberclient.Message && string(ev.Data) == text && ev.Sender == subject
		}); err != nil {
			return err
		}
		names = append(names, m.name)
	}
	d.t.detail("%s -> %q: decrypted by %s", from.name, text, strings.Join(names, " and "))
	return nil
}

func (d *demo) exchangeMessages(ctx context.Context) error {
	d.t.begin("application messages, fanned out by the moderator once it checked their sender")
	if err := d.say(ctx, d.alice, "hello from alice", d.bob, d.carol); err != nil {
		return err
	}
	return d.say(ctx, d.bob, "hi alice, bob here", d.alice, d.carol)
}
