package main

import (
	"context"
	"os/exec"
	"regexp"
	"slices"
	"testing"
	"time"
)

// treeRSS sums the process and its descendants, each named.
func TestTreeRSS(t *testing.T) {
	child := exec.Command("sleep", "30")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	s, err := treeRSS(child.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.parts) != 1 || s.parts[0].name != "sleep" || s.parts[0].bytes == 0 || s.total != s.parts[0].bytes {
		t.Fatalf("sample = %+v; want sleep alone, with its memory", s)
	}
	shell := exec.Command("sh", "-c", "sleep 30 & sleep 30 & wait")
	if err := shell.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = shell.Process.Kill(); _ = shell.Wait() })
	var names []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		s, err = treeRSS(shell.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		names = names[:0]
		for _, p := range s.parts {
			names = append(names, p.name)
		}
		if len(names) == 3 {
			break
		}
	}
	if !slices.Equal(names, []string{"sh", "sleep", "sleep"}) {
		t.Fatalf("processes = %v; want sh and its two sleeps", names)
	}
	if _, err := treeRSS(1 << 30); err == nil {
		t.Fatal("treeRSS of a pid that does not exist gave no error")
	}
}

// The rss mode builds and starts the real broker with its plugins.
func TestMeasureRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds slimid and two plugins and starts the broker; run without -short: go test ./cmd/slimid-benchreport")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	rows, err := measureRSS(ctx, 300)
	if err != nil {
		t.Fatal(err)
	}
	value := regexp.MustCompile(`^\d+\.\d MiB \(slimid \d+\.\d \+ slimid-plugin-jwt \d+\.\d \+ slimid-plugin-spiffehelper \d+\.\d\)$`)
	if len(rows) != 2 || rows[0].figure != "broker + plugins RSS, ready and idle" || rows[1].figure != "broker + plugins RSS, after 300 verifications" {
		t.Fatalf("rows = %+v", rows)
	}
	for _, r := range rows {
		if !value.MatchString(r.value) {
			t.Fatalf("%s = %q; want the total and each process's share", r.figure, r.value)
		}
	}
	t.Logf("%s: %s; %s: %s", rows[0].figure, rows[0].value, rows[1].figure, rows[1].value)
}
