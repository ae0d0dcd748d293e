package audit_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slimid/slimid/moderator/audit"
)

var refused = audit.Event{
	Time: time.Date(2026, 12, 4, 17, 0, 0, 0, time.UTC), Kind: audit.Refused, Group: "org/ns/chat", Epoch: 3,
	Subject: "org/ns/alice", Provider: "team", CredentialType: "basic", Reason: "policy: refused by deny.subjects[0]",
}

func TestFileSinkWritesJSONLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	sink, err := audit.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if err := sink.Record(refused); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := sink.Record(audit.Event{Time: refused.Time, Kind: audit.Admitted, Group: "g", Epoch: 4}); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	want := `{"time":"2026-12-04T17:00:00Z","event":"refused","group":"org/ns/chat","epoch":3,"subject":"org/ns/alice","provider":"team","credential_type":"basic","reason":"policy: refused by deny.subjects[0]"}`
	if len(lines) != 51 || lines[0] != want || lines[49] != want {
		t.Fatalf("%d lines, first %s\nwant %s", len(lines), lines[0], want)
	}
	if lines[50] != `{"time":"2026-12-04T17:00:00Z","event":"admitted","group":"g","epoch":4}` {
		t.Fatalf("last line %s", lines[50])
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v; want 0600", fi.Mode())
	}
	if err := sink.Record(refused); err == nil || err.Error() != "audit: "+path+" is closed" {
		t.Fatalf("record after close: %v", err)
	}
}

func TestLogSinkUsesTheFieldNames(t *testing.T) {
	var buf bytes.Buffer
	sink := audit.NewLogSink(slog.New(slog.NewJSONHandler(&buf, nil)))
	if err := sink.Record(refused); err != nil {
		t.Fatal(err)
	}
	want := `{"time":"2026-12-04T17:00:00Z","level":"INFO","msg":"audit","event":"refused","group":"org/ns/chat","epoch":3,"subject":"org/ns/alice","provider":"team","credential_type":"basic","reason":"policy: refused by deny.subjects[0]"}` + "\n"
	if buf.String() != want {
		t.Fatalf("got  %s\nwant %s", buf.String(), want)
	}
}

type failing struct{}

func (failing) Record(audit.Event) error { return errors.New("disk gone") }

func TestMultiRecordsInEverySink(t *testing.T) {
	var buf bytes.Buffer
	sink := audit.Multi(failing{}, audit.NewLogSink(slog.New(slog.NewJSONHandler(&buf, nil))))
	if err := sink.Record(refused); err == nil || err.Error() != "disk gone" {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(buf.String(), `"event":"refused"`) {
		t.Fatal("the second sink did not get the event")
	}
}

func ExampleLogSink() {
	// Drop the time so the output is stable.
	h := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})
	audit.NewLogSink(slog.New(h)).Record(audit.Event{
		Time: time.Now(), Kind: audit.Expired, Group: "org/ns/chat", Epoch: 7, Subject: "org/ns/bob", Provider: "team",
		CredentialType: "basic", Reason: "credential expired at 2026-12-04T18:00:00Z and was not renewed within the grace period of 1m0s",
	})
	// Output:
	// level=INFO msg=audit event=expired group=org/ns/chat epoch=7 subject=org/ns/bob provider=team credential_type=basic reason="credential expired at 2026-12-04T18:00:00Z and was not renewed within the grace period of 1m0s"
}
