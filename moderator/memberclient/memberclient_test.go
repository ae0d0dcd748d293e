package memberclient_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/slimid/slimid/broker"
	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/memberclient"
	"github.com/slimid/slimid/moderator/service"
	"github.com/slimid/slimid/plugins/sharedsecret"
	"github.com/slimid/slimid/sdk"
	moderatorv1 "github.com/slimid/slimid/sdk/proto/moderator/v1"
)

const (
	secret  = "memberclient-test-secret-0123456789abcdef"
	channel = "org/ns/chat"
	hang    = 30 * time.Second
)

// world is a broker with plugin entries default (the moderator), alice and
// bob, and a moderator service on a unix socket.
type world struct {
	b      *broker.Broker
	socket string
	cm     moderatorv1.ChannelManagerClient
	svc    *service.Service
}

func newWorld(t testing.TB) *world {
	t.Helper()
	yaml := "plugins:\n"
	for _, name := range []string{"default", "alice", "bob"} {
		yaml += fmt.Sprintf("  - name: %s\n    type: shared_secret\n    config: {id: org/ns/%s, random_suffix: false, data: %q}\n", name, name, secret)
	}
	cfg, err := broker.ParseConfig([]byte(yaml), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.New(context.Background(), cfg, broker.Options{Builtins: broker.Builtins{sharedsecret.Name: func() sdk.Plugin { return sharedsecret.New() }}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	dir, err := os.MkdirTemp("", "mc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	w := &world{b: b, socket: filepath.Join(dir, "mod.sock")}
	svc, err := service.Open(context.Background(), service.Config{
		Moderator: moderator.Config{StateDir: filepath.Join(dir, "state"), Verifier: b, Tokens: b}, Plugin: "default",
	})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := service.Listen("unix://" + w.socket)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- svc.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		<-served
		svc.Close()
	})
	conn, err := grpc.NewClient("unix://"+w.socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	w.cm, w.svc = moderatorv1.NewChannelManagerClient(conn), svc
	if _, err := w.cm.CreateChannel(context.Background(), &moderatorv1.CreateChannelRequest{ChannelName: channel, MlsEnabled: true}); err != nil {
		t.Fatal(err)
	}
	return w
}

// running is a client with its Run loop.
type running struct {
	c      *memberclient.Client
	events <-chan memberclient.Event
	stop   func()
}

func (w *world) run(t testing.TB, plugin, stateDir string) *running {
	t.Helper()
	c, err := memberclient.New(memberclient.Config{
		Target: "unix://" + w.socket, Name: "org/ns/" + plugin, Tokens: w.b, Plugin: plugin, StateDir: stateDir,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	r := &running{c: c, events: c.Events()}
	r.stop = func() {
		cancel()
		<-done
	}
	t.Cleanup(r.stop)
	return r
}

// await returns the next event of the kind, skipping others.
func (r *running) await(t testing.TB, kind memberclient.EventKind) memberclient.Event {
	t.Helper()
	deadline := time.After(hang)
	for {
		select {
		case ev, ok := <-r.events:
			if !ok {
				t.Fatalf("events closed while waiting for %s", kind)
			}
			if ev.Kind == kind {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event", kind)
		}
	}
}

// TestRestartFromStateDir: a member stopped and started again from its
// state directory proves its membership, catches up with the commits it
// missed and keeps exchanging messages.
func TestRestartFromStateDir(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	dir := filepath.Join(t.TempDir(), "alice")
	alice := w.run(t, "alice", dir)
	bob := w.run(t, "bob", "")
	if _, err := w.cm.AddParticipants(ctx, &moderatorv1.AddParticipantsRequest{ChannelName: channel, ParticipantNames: []string{"org/ns/alice", "org/ns/bob"}}); err != nil {
		t.Fatal(err)
	}
	joined := alice.await(t, memberclient.Joined)
	if joined.Subject != "org/ns/alice" || joined.Epoch != 1 {
		t.Fatalf("alice joined as %q at epoch %d", joined.Subject, joined.Epoch)
	}
	bob.await(t, memberclient.Joined)
	alice.stop()

	if err := bob.c.Rotate(ctx, channel); err != nil { // a commit alice misses
		t.Fatal(err)
	}
	bob.await(t, memberclient.Rotated)

	alice = w.run(t, "alice", dir)
	if got := alice.await(t, memberclient.Commit); got.Epoch != 2 {
		t.Fatalf("alice caught up to epoch %d, want 2", got.Epoch)
	}
	if err := bob.c.Send(ctx, channel, []byte("welcome back")); err != nil {
		t.Fatal(err)
	}
	if got := alice.await(t, memberclient.Message); string(got.Data) != "welcome back" || got.Sender != "org/ns/bob" {
		t.Fatalf("alice got %q from %q", got.Data, got.Sender)
	}
	if err := alice.c.Send(ctx, channel, []byte("thanks")); err != nil {
		t.Fatal(err)
	}
	if got := bob.await(t, memberclient.Message); string(got.Data) != "thanks" {
		t.Fatalf("bob got %q", got.Data)
	}
}

// TestRemovedWhileOffline: a member removed while it was away learns it on
// reconnection and forgets the membership.
func TestRemovedWhileOffline(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	dir := filepath.Join(t.TempDir(), "alice")
	alice := w.run(t, "alice", dir)
	if _, err := w.cm.AddParticipant(ctx, &moderatorv1.AddParticipantRequest{ChannelName: channel, ParticipantName: "org/ns/alice"}); err != nil {
		t.Fatal(err)
	}
	alice.stop()
	if _, err := w.cm.DeleteParticipant(ctx, &moderatorv1.DeleteParticipantRequest{ChannelName: channel, ParticipantName: "org/ns/alice"}); err != nil {
		t.Fatal(err)
	}
	alice = w.run(t, "alice", dir)
	gone := alice.await(t, memberclient.Removed)
	want := `leaf 1 of channel "org/ns/chat" does not hold this participant's key any more: it was removed from the channel`
	if gone.Reason != want {
		t.Fatalf("reason %q, want %q", gone.Reason, want)
	}
	if got := alice.c.Channels(); len(got) != 0 {
		t.Fatalf("alice still lists %q", got)
	}
	if err := alice.c.Send(ctx, channel, []byte("hello?")); err == nil {
		t.Fatal("a removed member could send")
	}
}

func TestNewRefusesIncompleteConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  memberclient.Config
		want string
	}{
		{"no target", memberclient.Config{Name: "a"}, "memberclient: Config.Target is required (unix:///path/to.sock or host:port)"},
		{"no name", memberclient.Config{Target: "unix:///x"}, "memberclient: Config.Name (the participant name) is required"},
		{"no tokens", memberclient.Config{Target: "unix:///x", Name: "a"}, "memberclient: Config.Tokens is required to make credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := memberclient.New(tt.cfg)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}
