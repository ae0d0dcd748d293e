package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/slimid/slimid/broker"
	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/memberclient"
	"github.com/slimid/slimid/moderator/service"
	moderatorv1 "github.com/slimid/slimid/sdk/proto/moderator/v1"
)

const (
	demoChannel = "demo/ns/chat"
	// demoWait bounds each wait for a member to react; a step that takes
	// longer failed.
	demoWait = 10 * time.Second
)

// demoWorld is the demo's broker, moderator service and members, all in
// this process, with their state in a temporary directory.
type demoWorld struct {
	dir     string
	log     *slog.Logger
	b       *broker.Broker
	svc     *service.Service
	socket  string
	conn    *grpc.ClientConn
	cm      moderatorv1.ChannelManagerClient
	stop    context.CancelFunc
	served  chan error
	members []*demoMember
}

// newDemoWorld makes the temporary state directory and its shared secret,
// and starts the broker: the embedded default's built-in shared-secret
// plugin, one entry per identity, all with the same secret.
func newDemoWorld(cmd *cobra.Command) (*demoWorld, error) {
	dir, err := os.MkdirTemp("", "slimid-demo-")
	if err != nil {
		return nil, fmt.Errorf("temporary directory: %v", err)
	}
	w := &demoWorld{dir: dir, socket: filepath.Join(dir, "moderator.sock"), log: slog.New(slog.DiscardHandler)}
	if cmd.Flags().Changed("log-level") {
		if w.log, err = newLogger(cmd); err != nil {
			w.close()
			return nil, err
		}
	}
	secret := filepath.Join(dir, "shared-secret")
	if err := ensureSecret(secret); err != nil {
		w.close()
		return nil, err
	}
	var yaml strings.Builder
	yaml.WriteString("plugins:\n")
	for _, p := range [][2]string{{defaultPlugin, "demo/ns/moderator"}, {"alice", "demo/ns/alice"}, {"bob", "demo/ns/bob"}, {"carol", "demo/ns/carol"}} {
		fmt.Fprintf(&yaml, "  - name: %s\n    type: shared_secret\n    config:\n      id: %q\n      file: %q\n", p[0], p[1], secret)
	}
	cfg, err := broker.ParseConfig([]byte(yaml.String()), dir)
	if err != nil {
		w.close()
		return nil, err
	}
	if w.b, err = broker.New(cmd.Context(), cfg, broker.Options{Builtins: builtins, Logger: w.log}); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

// serve opens the moderator on its state directory and serves it on the
// unix socket, over the real gRPC transport.
func (w *demoWorld) serve(ctx context.Context) error {
	svc, err := service.Open(ctx, service.Config{
		Moderator: moderator.Config{StateDir: filepath.Join(w.dir, "moderator"), Verifier: w.b, Tokens: w.b, Logger: w.log},
		Plugin:    defaultPlugin,
		Logger:    w.log,
	})
	if err != nil {
		return err
	}
	lis, err := service.Listen("unix://" + w.socket)
	if err != nil {
		svc.Close()
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	w.svc, w.stop, w.served = svc, stop, make(chan error, 1)
	go func() { w.served <- svc.Serve(sctx, lis) }()
	if w.conn, err = grpc.NewClient("unix://"+w.socket, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		return err
	}
	w.cm = moderatorv1.NewChannelManagerClient(w.conn)
	return nil
}

// close stops everything and removes the temporary directory.
func (w *demoWorld) close() {
	for _, m := range w.members {
		m.stop()
	}
	if w.conn != nil {
		w.conn.Close()
	}
	if w.svc != nil {
		w.stop()
		<-w.served
		w.svc.Close()
	}
	if w.b != nil {
		w.b.Close()
	}
	os.RemoveAll(w.dir)
}

// demoMember is a participant: a memberclient over the transport, with
// every event it reported.
type demoMember struct {
	name   string // alice
	client *memberclient.Client
	stop   func()

	mu      sync.Mutex
	events  []memberclient.Event
	changed chan struct{}
}

// startMember connects a participant named demo/ns/<name>, whose tokens
// come from the plugin entry <name> unless cred makes its credentials.
func (w *demoWorld) startMember(ctx context.Context, name string, cred memberclient.CredentialFunc) (*demoMember, error) {
	c, err := memberclient.New(memberclient.Config{
		Target: "unix://" + w.socket, Name: "demo/ns/" + name, Tokens: w.b, Plugin: name, Credential: cred, Logger: w.log,
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	m := &demoMember{name: name, client: c, changed: make(chan struct{})}
	var once sync.Once
	m.stop = func() { once.Do(func() { cancel(); <-done }) }
	go func() {
		for ev := range c.Events() {
			m.mu.Lock()
			m.events = append(m.events, ev)
			close(m.changed)
			m.changed = make(chan struct{})
			m.mu.Unlock()
		}
	}()
	w.members = append(w.members, m)
	return m, m.wait(what(name, "connected"), func(ev memberclient.Event) bool { return ev.Kind == memberclient.Connected })
}

func (m *demoMember) participant() string { return "demo/ns/" + m.name }

// wait returns the first event ok holds for, waiting for it up to demoWait.
func (m *demoMember) wait(what string, ok func(memberclient.Event) bool) error {
	_, err := m.find(what, ok)
	return err
}

func (m *demoMember) find(what string, ok func(memberclient.Event) bool) (memberclient.Event, error) {
	deadline := time.NewTimer(demoWait)
	defer deadline.Stop()
	for {
		m.mu.Lock()
		evs, changed := m.events, m.changed
		m.mu.Unlock()
		for _, ev := range evs {
			if ok(ev) {
				return ev, nil
			}
		}
		select {
		case <-changed:
		case <-deadline.C:
			return memberclient.Event{}, fmt.Errorf("%s did not happen within %s", what, demoWait)
		}
	}
}

// has reports whether an event ok holds for was reported.
func (m *demoMember) has(ok func(memberclient.Event) bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ev := range m.events {
		if ok(ev) {
			return true
		}
	}
	return false
}

func what(name, event string) string { return name + ": " + event }

// membership is the member's view of the demo channel.
func (m *demoMember) membership() memberclient.Membership {
	ms, _ := m.client.Membership(demoChannel)
	return ms
}

// short names a value by the first bytes of its hex.
func short(b []byte) string {
	if len(b) > 6 {
		b = b[:6]
	}
	return hex.EncodeToString(b)
}

// transcript prints the demo's numbered steps.
type transcript struct {
	w    io.Writer
	step int
}

func (t *transcript) begin(format string, args ...any) {
	t.step++
	fmt.Fprintf(t.w, "%2d. %s\n", t.step, fmt.Sprintf(format, args...))
}

func (t *transcript) detail(format string, args ...any) {
	fmt.Fprintf(t.w, "    %s\n", fmt.Sprintf(format, args...))
}
