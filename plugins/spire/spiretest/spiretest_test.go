package spiretest_test

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/slimid/slimid/plugins/spire/spiretest"
)

func TestStartServesTheWorkload(t *testing.T) {
	env := spiretest.Start(t, spiretest.Options{JWTSVIDTTL: 30 * time.Second})

	u, err := url.Parse(env.WorkloadAPIAddr)
	if err != nil || u.Scheme != "unix" || u.Path != env.AgentSocket {
		t.Fatalf("WorkloadAPIAddr = %q; want unix://%s", env.WorkloadAPIAddr, env.AgentSocket)
	}
	if len(env.AgentSocket) > 107 {
		t.Fatalf("agent socket path is %d bytes; unix sockets allow 107", len(env.AgentSocket))
	}
	svid, err := workloadapi.FetchX509SVID(t.Context(), workloadapi.WithAddr(env.WorkloadAPIAddr))
	if err != nil {
		t.Fatalf("FetchX509SVID: %v", err)
	}
	if svid.ID.String() != "spiffe://example.org/workload" || env.WorkloadID != svid.ID.String() {
		t.Fatalf("X.509-SVID for %s; Env says %s, want spiffe://example.org/workload", svid.ID, env.WorkloadID)
	}

	client, err := workloadapi.New(t.Context(), workloadapi.WithAddr(env.WorkloadAPIAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	jwt, err := client.FetchJWTSVID(t.Context(), jwtsvid.Params{Audience: "slim"})
	if err != nil {
		t.Fatalf("FetchJWTSVID: %v", err)
	}
	if ttl := time.Until(jwt.Expiry); ttl > 30*time.Second || ttl < 20*time.Second {
		t.Fatalf("JWT-SVID expires in %s; the entry asks for 30s", ttl)
	}
}

func TestBundlesFromTheServerCLI(t *testing.T) {
	env := spiretest.Start(t, spiretest.Options{TrustDomain: "td.test"})

	block, _ := pem.Decode(env.BundlePEM(t))
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("BundlePEM is not a PEM certificate")
	}
	var doc struct {
		Keys []struct {
			Use string `json:"use"`
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(env.BundleJWKS(t), &doc); err != nil {
		t.Fatalf("BundleJWKS: %v", err)
	}
	var jwtKeys int
	for _, k := range doc.Keys {
		if k.Use == "jwt-svid" && k.Kid != "" {
			jwtKeys++
		}
	}
	if jwtKeys != 1 {
		t.Fatalf("bundle holds %d JWT authorities; want 1: %+v", jwtKeys, doc.Keys)
	}
	if env.TrustDomain != "td.test" || env.WorkloadID != "spiffe://td.test/workload" {
		t.Fatalf("Env = %s, %s; want td.test and its workload", env.TrustDomain, env.WorkloadID)
	}
}

func TestEntriesComeAndGo(t *testing.T) {
	env := spiretest.Start(t, spiretest.Options{})
	id := env.CreateEntry(t, spiretest.Entry{SPIFFEID: "spiffe://example.org/second", Hint: "second"})

	waitSVIDs(t, env, []string{"spiffe://example.org/second", "spiffe://example.org/workload"})
	env.DeleteEntry(t, id)
	waitSVIDs(t, env, []string{"spiffe://example.org/workload"})

	shown := env.ServerCLI(t, "entry", "show", "-output", "json")
	if bytes.Contains(shown, []byte("/second")) {
		t.Fatalf("entry show still lists the deleted entry: %s", shown)
	}
}

func TestAgentRestartKeepsTheIdentity(t *testing.T) {
	env := spiretest.Start(t, spiretest.Options{})
	before := fetchID(t, env)

	env.KillAgent(t)
	ctx, cancel := contextWithTimeout(t, 2*time.Second)
	defer cancel()
	if _, err := workloadapi.FetchX509SVID(ctx, workloadapi.WithAddr(env.WorkloadAPIAddr)); err == nil {
		t.Fatal("the Workload API answered after KillAgent")
	}
	env.StartAgent(t)
	if after := fetchID(t, env); after != before {
		t.Fatalf("after the restart the workload is %s; before it was %s", after, before)
	}

	env.StopAgent(t)
	if _, err := os.Stat(env.AgentSocket); err == nil {
		t.Fatalf("a gracefully stopped agent left its socket %s behind", env.AgentSocket)
	}
	env.StartAgent(t)
	fetchID(t, env)
}

func TestShortTempDir(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real SPIRE server and agent; run without -short: go test ./plugins/spire/...")
	}
	// A deep TMPDIR would push the sockets past sun_path.
	deep := filepath.Join(t.TempDir(), strings.Repeat("d", 90))
	if err := os.MkdirAll(deep, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", deep)
	env := spiretest.Start(t, spiretest.Options{})
	if !strings.HasPrefix(env.Dir, "/tmp/") {
		t.Fatalf("Env.Dir = %s; want a short fallback under /tmp", env.Dir)
	}
	fetchID(t, env)
}
