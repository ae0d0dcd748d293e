package service_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/slimid/slimid/broker"
	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/member"
	"github.com/slimid/slimid/moderator/memberclient"
	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/moderator/service"
	"github.com/slimid/slimid/plugins/sharedsecret"
	"github.com/slimid/slimid/sdk"
	moderatorv1 "github.com/slimid/slimid/sdk/proto/moderator/v1"
)

const (
	secret  = "service-test-secret-0123456789abcdef"
	channel = "org/ns/chat"
	// hang bounds every wait for an event, so a broken flow fails instead
	// of hanging; it is not a timing assertion.
	hang = 30 * time.Second
)

var builtins = broker.Builtins{sharedsecret.Name: func() sdk.Plugin { return sharedsecret.New() }}

// brokerYAML has the moderator's plugin entry "default" first (it
// verifies everyone sharing its secret) and one minting entry per
// participant, each "name[:id][,extra config lines separated by ;]". An
// entry with its own `data` (secret) verifies its own tokens, with its own
// validity window.
func brokerYAML(participants ...string) string {
	var b strings.Builder
	b.WriteString("plugins:\n")
	for _, p := range append([]string{"default:moderator"}, participants...) {
		p, extra, _ := strings.Cut(p, ",")
		name, id, _ := strings.Cut(p, ":")
		if id == "" {
			id = name
		}
		fmt.Fprintf(&b, "  - name: %s\n    type: shared_secret\n    config:\n      id: org/ns/%s\n      random_suffix: false\n", name, id)
		if !strings.Contains(extra, "data:") {
			fmt.Fprintf(&b, "      data: %q\n", secret)
		}
		for line := range strings.SplitSeq(extra, ";") {
			if line != "" {
				fmt.Fprintf(&b, "      %s\n", strings.TrimSpace(line))
			}
		}
	}
	return b.String()
}

func startBroker(t testing.TB, participants ...string) *broker.Broker {
	t.Helper()
	cfg, err := broker.ParseConfig([]byte(brokerYAML(participants...)), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.New(context.Background(), cfg, broker.Options{Builtins: builtins})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// shortDir is a temporary directory with a path short enough for a unix
// socket.
func shortDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "svc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// env is a broker, a moderator service on a unix socket and its operator
// client.
type env struct {
	t        testing.TB
	b        *broker.Broker
	stateDir string
	socket   string
	tune     func(*service.Config)
	logs     *logRecorder

	svc    *service.Service
	cancel context.CancelFunc
	served chan error
	cm     moderatorv1.ChannelManagerClient
}

func newEnv(t testing.TB, tune func(*service.Config), participants ...string) *env {
	dir := shortDir(t)
	e := &env{t: t, b: startBroker(t, participants...), stateDir: filepath.Join(dir, "state"),
		socket: filepath.Join(dir, "mod.sock"), tune: tune, logs: &logRecorder{}}
	e.start()
	conn, err := grpc.NewClient("unix://"+e.socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	e.cm = moderatorv1.NewChannelManagerClient(conn)
	t.Cleanup(e.stop)
	return e
}

// start opens the service on the state directory and serves it.
func (e *env) start() {
	e.t.Helper()
	cfg := service.Config{
		Moderator: moderator.Config{StateDir: e.stateDir, Verifier: e.b, Tokens: e.b},
		Plugin:    "default",
		Logger:    slog.New(e.logs),
	}
	if e.tune != nil {
		e.tune(&cfg)
	}
	svc, err := service.Open(context.Background(), cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	lis, err := service.Listen("unix://" + e.socket)
	if err != nil {
		svc.Close()
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.svc, e.cancel, e.served = svc, cancel, make(chan error, 1)
	go func() { e.served <- svc.Serve(ctx, lis) }()
}

// stop stops serving and closes the moderator's state.
func (e *env) stop() {
	if e.svc == nil {
		return
	}
	e.cancel()
	if err := <-e.served; err != nil {
		e.t.Errorf("Serve: %v", err)
	}
	if err := e.svc.Close(); err != nil {
		e.t.Errorf("Close: %v", err)
	}
	e.svc = nil
}

func (e *env) createChannel(ctx context.Context) {
	e.t.Helper()
	if _, err := e.cm.CreateChannel(ctx, &moderatorv1.CreateChannelRequest{ChannelName: channel, MlsEnabled: true}); err != nil {
		e.t.Fatal(err)
	}
}

// group returns the moderator's view of the channel.
func (e *env) group() moderator.GroupInfo {
	e.t.Helper()
	g, err := e.svc.Moderator().Group(channel)
	if err != nil {
		e.t.Fatal(err)
	}
	return g
}

// testMember is a memberclient running in the test, with its events.
type testMember struct {
	name   string
	c      *memberclient.Client
	rec    *recorder
	cancel context.CancelFunc
	done   chan error
}

// member starts a participant named org/ns/<plugin> whose tokens come from
// the plugin entry of the same name.
func (e *env) member(plugin, stateDir string, tune func(*memberclient.Config)) *testMember {
	e.t.Helper()
	cfg := memberclient.Config{
		Target: "unix://" + e.socket, Name: "org/ns/" + plugin, Tokens: e.b, Plugin: plugin, StateDir: stateDir,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	}
	if tune != nil {
		tune(&cfg)
	}
	c, err := memberclient.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &testMember{name: cfg.Name, c: c, rec: newRecorder(c), cancel: cancel, done: make(chan error, 1)}
	go func() { m.done <- c.Run(ctx) }()
	e.t.Cleanup(m.stop)
	m.rec.wait(e.t, "connected", func(ev memberclient.Event) bool { return ev.Kind == memberclient.Connected })
	return m
}

func (m *testMember) stop() {
	if m.cancel == nil {
		return
	}
	m.cancel()
	<-m.done
	m.cancel = nil
	m.rec.drain()
}

// atEpoch waits until the member applied the channel's epoch.
func (m *testMember) atEpoch(t testing.TB, epoch uint64) {
	t.Helper()
	m.rec.wait(t, fmt.Sprintf("%s at epoch %d", m.name, epoch), func(memberclient.Event) bool {
		ms, ok := m.c.Membership(channel)
		return ok && ms.Epoch >= epoch
	})
	if ms, _ := m.c.Membership(channel); ms.Epoch != epoch {
		t.Fatalf("%s is at epoch %d, want %d", m.name, ms.Epoch, epoch)
	}
}

// recorder keeps every event of a client and lets tests wait for one.
type recorder struct {
	mu      sync.Mutex
	events  []memberclient.Event
	changed chan struct{}
	drained chan struct{}
}

func newRecorder(c *memberclient.Client) *recorder {
	r := &recorder{changed: make(chan struct{}), drained: make(chan struct{})}
	go func() {
		defer close(r.drained)
		for ev := range c.Events() {
			r.mu.Lock()
			r.events = append(r.events, ev)
			close(r.changed)
			r.changed = make(chan struct{})
			r.mu.Unlock()
		}
	}()
	return r
}

func (r *recorder) drain() { <-r.drained }

// wait blocks until ok holds for an event recorded (or for the state it
// inspects), and returns the first event it held for.
func (r *recorder) wait(t testing.TB, what string, ok func(memberclient.Event) bool) memberclient.Event {
	t.Helper()
	return r.waitFrom(t, 0, what, ok)
}

// mark is the number of events so far, for waitFrom.
func (r *recorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// waitFrom is wait over the events after the first from.
func (r *recorder) waitFrom(t testing.TB, from int, what string, ok func(memberclient.Event) bool) memberclient.Event {
	t.Helper()
	deadline := time.After(hang)
	seen := from
	for {
		r.mu.Lock()
		evs, changed := r.events, r.changed
		r.mu.Unlock()
		for ; seen < len(evs); seen++ {
			if ok(evs[seen]) {
				return evs[seen]
			}
		}
		if len(evs) > 0 && ok(memberclient.Event{}) {
			return memberclient.Event{}
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("waiting for %s: it did not happen; events: %v", what, r.kinds())
		}
	}
}

// all returns the events of a kind so far.
func (r *recorder) all(kind memberclient.EventKind) []memberclient.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []memberclient.Event
	for _, ev := range r.events {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

func (r *recorder) kinds() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, ev := range r.events {
		s := ev.Kind.String()
		if ev.Reason != "" {
			s += "(" + ev.Reason + ")"
		}
		out = append(out, s)
	}
	return out
}

// messages returns the application messages received, as "sender: text".
func (r *recorder) messages() []string {
	var out []string
	for _, ev := range r.all(memberclient.Message) {
		out = append(out, ev.Sender+": "+string(ev.Data))
	}
	return out
}

// logRecorder is a slog handler that keeps records for inspection.
type logRecorder struct {
	mu      sync.Mutex
	records []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	l.records = append(l.records, b.String())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

func (l *logRecorder) find(substr string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.records {
		if strings.Contains(r, substr) {
			return r
		}
	}
	return ""
}

// impostor makes key packages that carry a stolen credential beside the
// impostor's own key.
func impostor(stolen mls.Credential) memberclient.CredentialFunc {
	return func(_ context.Context, req memberclient.JoinRequest) (memberclient.Credential, error) {
		signer, err := mls.GenerateSigner(req.Suite)
		if err != nil {
			return memberclient.Credential{}, err
		}
		return memberclient.Credential{Credential: member.Credential{Signer: signer, Credential: stolen}}, nil
	}
}
