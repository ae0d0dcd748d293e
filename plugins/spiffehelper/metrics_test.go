package spiffehelper_test

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/slimid/slimid/plugins/spiffehelper"
)

// TestGaugesShareARegistry: several plugins on one registerer report one
// series pair per token file, and a closed plugin stops reporting.
func TestGaugesShareARegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	dirA, dirB := t.TempDir(), t.TempDir()
	writeFixture(t, dirA)
	writeFixture(t, dirB)
	var plugins []*spiffehelper.Plugin
	for _, dir := range []string{dirA, dirB, dirB} {
		p := spiffehelper.New(spiffehelper.WithRegisterer(reg))
		t.Cleanup(func() { _ = p.Close() })
		if _, err := p.Configure(t.Context(), fmt.Appendf(nil, "cert_dir: %s\njwt_audiences: [slim-demo]\n", dir)); err != nil {
			t.Fatalf("Configure: %v", err)
		}
		plugins = append(plugins, p)
	}
	if got := seriesCount(t, reg); got != 4 {
		t.Fatalf("%d series; want 4 (two token files, one of them read twice)", got)
	}
	_ = plugins[0].Close()
	if got := seriesCount(t, reg); got != 2 {
		t.Fatalf("%d series after Close; want 2", got)
	}
}

// TestGaugesOnTheDefaultRegisterer: plugins made with New() join one
// collector on prometheus.DefaultRegisterer instead of colliding.
func TestGaugesOnTheDefaultRegisterer(t *testing.T) {
	dir := t.TempDir()
	writeFixture(t, dir)
	for range 2 {
		p := spiffehelper.New()
		t.Cleanup(func() { _ = p.Close() })
		if _, err := p.Configure(t.Context(), fmt.Appendf(nil, "cert_dir: %s\njwt_audiences: [slim-demo]\n", dir)); err != nil {
			t.Fatalf("Configure: %v", err)
		}
	}
	families, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	found := 0
	for _, f := range families {
		if f.GetName() == "slimid_spiffehelper_token_expiry_seconds" {
			found = len(f.GetMetric())
		}
	}
	if found != 1 {
		t.Fatalf("%d expiry series on the default registry; want 1", found)
	}
}

func seriesCount(t *testing.T, reg *prometheus.Registry) int {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	n := 0
	for _, f := range families {
		n += len(f.GetMetric())
	}
	return n
}
