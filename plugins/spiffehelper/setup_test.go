package spiffehelper_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/slimid/slimid/plugins/spiffehelper"
	"github.com/slimid/slimid/sdk"
)

// hangGuard bounds waits for something that must happen; reaching it means
// the plugin missed an event, not that it was slow.
const hangGuard = 15 * time.Second

// configured returns a plugin configured on dir with its own registry and
// a log tap. extra is appended to the configuration.
func configured(t testing.TB, dir, extra string) (*spiffehelper.Plugin, *logTap, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	p := spiffehelper.New(spiffehelper.WithRegisterer(reg))
	tap := newLogTap()
	p.SetLogger(slog.New(tap))
	t.Cleanup(func() { _ = p.Close() })
	cfg := fmt.Sprintf("cert_dir: %s\njwt_audiences: [slim-demo]\n%s", dir, extra)
	if _, err := p.Configure(t.Context(), []byte(cfg)); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return p, tap, reg
}

// logTap records every log line so a test can wait for the plugin to have
// seen a file, instead of sleeping.
type logTap struct {
	mu      *sync.Mutex
	lines   *[]string
	changed *chan struct{}
	attrs   []slog.Attr
}

func newLogTap() *logTap {
	ch := make(chan struct{})
	return &logTap{mu: &sync.Mutex{}, lines: &[]string{}, changed: &ch}
}

func (l *logTap) Enabled(context.Context, slog.Level) bool { return true }

func (l *logTap) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	for _, a := range l.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	*l.lines = append(*l.lines, b.String())
	close(*l.changed)
	*l.changed = make(chan struct{})
	return nil
}

func (l *logTap) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *l
	c.attrs = append(append([]slog.Attr(nil), l.attrs...), attrs...)
	return &c
}

func (l *logTap) WithGroup(string) slog.Handler { return l }

// mark is a position in the log; wait looks only at lines after it.
func (l *logTap) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(*l.lines)
}

// wait blocks until a line after from contains every one of parts, and
// returns it.
func (l *logTap) wait(t testing.TB, from int, parts ...string) string {
	t.Helper()
	deadline := time.After(hangGuard)
	for {
		l.mu.Lock()
		for _, line := range (*l.lines)[from:] {
			if containsAll(line, parts) {
				l.mu.Unlock()
				return line
			}
		}
		from = len(*l.lines)
		changed := *l.changed
		l.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no log line with %q", parts)
		}
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// tokens collects what WatchToken pushes.
func watchTokens(t testing.TB, p *spiffehelper.Plugin, req sdk.TokenRequest) <-chan sdk.Token {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	out := make(chan sdk.Token, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = p.WatchToken(ctx, req, func(tok sdk.Token) error {
			out <- tok
			return nil
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return out
}

// next waits for the next pushed token.
func next(t testing.TB, ch <-chan sdk.Token) sdk.Token {
	t.Helper()
	select {
	case tok := <-ch:
		return tok
	case <-time.After(hangGuard):
		t.Fatal("WatchToken pushed nothing")
		return sdk.Token{}
	}
}
