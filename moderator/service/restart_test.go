package service_test

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slimid/slimid/moderator/memberclient"
	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/moderator/service"
	moderatorv1 "github.com/slimid/slimid/sdk/proto/moderator/v1"
)

// eventually polls cond until it holds; hang bounds it.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hang)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: it did not happen", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestModeratorRestart closes the service and the moderator while a commit
// is undelivered (bob is offline), reopens them from the same state
// directory, and checks that members reconnect and converge with nothing
// lost or duplicated.
func TestModeratorRestart(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil, "alice", "bob")
	e.createChannel(ctx)
	dirs := shortDir(t)
	alice := e.member("alice", filepath.Join(dirs, "alice"), nil)
	bob := e.member("bob", filepath.Join(dirs, "bob"), nil)
	if _, err := e.cm.AddParticipants(ctx, &moderatorv1.AddParticipantsRequest{ChannelName: channel, ParticipantNames: []string{alice.name, bob.name}}); err != nil {
		t.Fatal(err)
	}
	bob.atEpoch(t, 1)
	bob.stop()

	// alice renews her credential: the commit reaches her, not bob.
	if err := alice.c.Rotate(ctx, channel); err != nil {
		t.Fatal(err)
	}
	alice.rec.wait(t, "alice's rotation", func(ev memberclient.Event) bool { return ev.Kind == memberclient.Rotated })
	alice.atEpoch(t, 2)
	pending, err := e.svc.Moderator().Pending(channel)
	if err != nil || len(pending) != 1 || pending[0].Epoch != 2 {
		t.Fatalf("before the restart: pending %v, %v; want the commit to epoch 2", pending, err)
	}

	e.stop()
	e.start()
	alice.rec.wait(t, "alice reconnected", func(memberclient.Event) bool { return len(alice.rec.all(memberclient.Connected)) == 2 })
	bob = e.member("bob", filepath.Join(dirs, "bob"), nil)
	bob.atEpoch(t, 2)
	eventually(t, "the outbox to empty", func() bool {
		p, err := e.svc.Moderator().Pending(channel)
		return err == nil && len(p) == 0
	})
	want := e.group().EpochAuthenticator
	for _, m := range []*testMember{alice, bob} {
		if ms, _ := m.c.Membership(channel); ms.Epoch != 2 || !bytes.Equal(ms.EpochAuthenticator, want) {
			t.Fatalf("%s: epoch %d, authenticator equal to the moderator's: %v", m.name, ms.Epoch, bytes.Equal(ms.EpochAuthenticator, want))
		}
	}

	if err := bob.c.Send(ctx, channel, []byte("bob after the restart")); err != nil {
		t.Fatal(err)
	}
	alice.rec.wait(t, "bob's message", func(ev memberclient.Event) bool { return ev.Kind == memberclient.Message })
	if err := alice.c.Send(ctx, channel, []byte("alice after the restart")); err != nil {
		t.Fatal(err)
	}
	bob.rec.wait(t, "alice's message", func(ev memberclient.Event) bool { return ev.Kind == memberclient.Message })
	// One more commit after the restart reaches both exactly once.
	if err := bob.c.Rotate(ctx, channel); err != nil {
		t.Fatal(err)
	}
	alice.atEpoch(t, 3)
	bob.atEpoch(t, 3)

	if got := alice.rec.messages(); !slices.Equal(got, []string{"org/ns/bob: bob after the restart"}) {
		t.Fatalf("alice received %q", got)
	}
	if got := bob.rec.messages(); !slices.Equal(got, []string{"org/ns/alice: alice after the restart"}) {
		t.Fatalf("bob received %q", got)
	}
	for _, m := range []*testMember{alice, bob} {
		var epochs []uint64
		for _, ev := range m.rec.all(memberclient.Commit) {
			epochs = append(epochs, ev.Epoch)
		}
		if !slices.IsSorted(epochs) || len(slices.Compact(slices.Clone(epochs))) != len(epochs) {
			t.Fatalf("%s applied commits for epochs %v: a commit was applied twice or out of order", m.name, epochs)
		}
	}
	if got := e.group(); got.Epoch != 3 {
		t.Fatalf("the moderator is at epoch %d", got.Epoch)
	}
}

// TestUnackedDelivery: a Welcome nobody acknowledges is sent again every
// RetryInterval, MaxRetries times, then the participant is reported
// unresponsive (a log and a metric); the operator learns it was not
// acknowledged, and the Welcome is delivered again after a restart when
// the participant reconnects.
func TestUnackedDelivery(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	const retries = 3
	e := newEnv(t, func(c *service.Config) {
		c.RetryInterval, c.MaxRetries, c.Registerer = 20*time.Millisecond, retries, reg
	}, "dave")
	e.createChannel(ctx)
	dave := dialRaw(t, e.socket, "org/ns/dave", nil)
	added := make(chan *moderatorv1.AddParticipantResponse, 1)
	go func() {
		res, err := e.cm.AddParticipant(ctx, &moderatorv1.AddParticipantRequest{ChannelName: channel, ParticipantName: dave.name})
		if err != nil {
			t.Errorf("AddParticipant: %v", err)
		}
		added <- res
	}()
	j := dave.answerJoin(ctx, e.b, "dave", dave.next().GetJoinRequest())
	first := dave.delivery()
	if first.GetKind() != moderatorv1.Delivery_KIND_WELCOME {
		t.Fatalf("got a %s, want the Welcome", first.GetKind())
	}
	copies := 1
	var res *moderatorv1.AddParticipantResponse
	for res == nil {
		select {
		case res = <-added:
		case m := <-dave.frames:
			if m.GetDelivery().GetDeliveryId() == first.GetDeliveryId() {
				copies++
			}
		}
	}
	if copies != retries+1 {
		t.Fatalf("the Welcome was sent %d times, want %d", copies, retries+1)
	}
	if res.GetWelcomeAcknowledged() || res.GetParticipant().GetSubject() != "org/ns/dave" {
		t.Fatalf("AddParticipant: welcome acknowledged %v, subject %q", res.GetWelcomeAcknowledged(), res.GetParticipant().GetSubject())
	}
	report := e.logs.find("participant unresponsive")
	for _, want := range []string{"participant=org/ns/dave", "kind=welcome", "tries=4", "channel=" + channel} {
		if !strings.Contains(report, want) {
			t.Fatalf("report %q lacks %q", report, want)
		}
	}
	if got := counter(t, reg, "slimid_moderator_unresponsive_total", "welcome"); got != 1 {
		t.Fatalf("slimid_moderator_unresponsive_total{kind=welcome} = %v, want 1", got)
	}
	if p, _ := e.svc.Moderator().Pending(channel); len(p) != 1 {
		t.Fatalf("%d commits pending, want the unacknowledged one", len(p))
	}

	dave.close()
	e.stop()
	e.start()
	dave = dialRaw(t, e.socket, "org/ns/dave", map[mls.KeyPackageRef]*rawJoin{j.bundle.KeyPackage().Ref(): j})
	m := dave.join(dave.delivery())
	if !bytes.Equal(m.EpochAuthenticator(), e.group().EpochAuthenticator) {
		t.Fatal("dave joined with another epoch authenticator than the moderator's")
	}
	eventually(t, "the outbox to empty", func() bool {
		p, err := e.svc.Moderator().Pending(channel)
		return err == nil && len(p) == 0
	})
}

// counter reads a counter with one label value from a registry.
func counter(t testing.TB, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == label {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
