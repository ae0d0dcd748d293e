package spiretest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// Env is a running SPIRE server and agent with one workload entry for the
// test's uid.
type Env struct {
	// WorkloadAPIAddr is the agent's Workload API in go-spiffe form
	// (unix:///path), as SPIFFE_ENDPOINT_SOCKET expects it.
	WorkloadAPIAddr string
	// AgentSocket is the bare path of that socket, as SPIRE's CLI takes it.
	AgentSocket string
	// TrustDomain is the server's trust domain ("example.org").
	TrustDomain string
	// WorkloadID is the SPIFFE ID registered for the test's uid.
	WorkloadID string
	// EntryID is the registration entry of WorkloadID.
	EntryID string
	// Dir holds the configs, data and logs.
	Dir string

	opts                Options
	layout              layout
	serverBin, agentBin string

	mu     sync.Mutex
	server *process
	agent  *process
}

// Start runs a SPIRE server and agent in a fresh directory, registers
// Options.WorkloadID for the current uid and returns once the workload can
// fetch its first X.509-SVID. Everything ends in t.Cleanup. It skips under
// -short.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	serverBin, agentBin := Binaries(t)
	opts = opts.withDefaults()
	dir, err := shortTempDir()
	if err != nil {
		t.Fatalf("spiretest: %v", err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatalf("spiretest: %v", err)
	}
	l := newLayout(dir, port, opts)
	if err := l.write(); err != nil {
		t.Fatalf("spiretest: %v", err)
	}
	e := &Env{
		WorkloadAPIAddr: "unix://" + l.AgentSocket,
		AgentSocket:     l.AgentSocket,
		TrustDomain:     opts.TrustDomain,
		WorkloadID:      opts.WorkloadID,
		Dir:             dir,
		opts:            opts,
		layout:          l,
		serverBin:       serverBin,
		agentBin:        agentBin,
	}
	t.Cleanup(func() {
		e.stopAll()
		if t.Failed() {
			e.dumpLogs(t)
		}
		_ = os.RemoveAll(dir)
	})
	if err := e.start(t.Context(), t); err != nil {
		t.Fatalf("spiretest: %v", err)
	}
	return e
}

func (e *Env) start(ctx context.Context, t testing.TB) error {
	begin := time.Now()
	if err := e.startServer(ctx); err != nil {
		return err
	}
	healthy := time.Now()
	bundle, err := e.serverCLI(ctx, "bundle", "show")
	if err != nil {
		return err
	}
	if err := os.WriteFile(e.layout.BundlePEM, bundle, 0o600); err != nil {
		return fmt.Errorf("write the trust bundle: %v", err)
	}
	agentID := "spiffe://" + e.TrustDomain + "/agent"
	out, err := e.serverCLI(ctx, "token", "generate", "-spiffeID", agentID)
	if err != nil {
		return err
	}
	token, ok := strings.CutPrefix(strings.TrimSpace(string(out)), "Token: ")
	if !ok || token == "" {
		return fmt.Errorf("spire-server token generate printed %q; want \"Token: <value>\"", out)
	}
	var federates []string
	for td, bundle := range e.opts.FederatedBundles {
		if err := e.setBundle(ctx, td, bundle); err != nil {
			return err
		}
		federates = append(federates, td)
	}
	slices.Sort(federates)
	e.EntryID, err = e.createEntry(ctx, Entry{
		ParentID:      agentID,
		SPIFFEID:      e.WorkloadID,
		Selectors:     []string{"unix:uid:" + strconv.Itoa(os.Getuid())},
		X509SVIDTTL:   e.opts.X509SVIDTTL,
		JWTSVIDTTL:    e.opts.JWTSVIDTTL,
		FederatesWith: federates,
	})
	if err != nil {
		return err
	}
	agentStart := time.Now()
	if err := e.runAgent("-joinToken", token); err != nil {
		return err
	}
	if err := e.waitSVID(ctx); err != nil {
		return err
	}
	t.Logf("spiretest: SPIRE %s up in %s (server healthy after %s, first SVID %s after the agent started)",
		e.TrustDomain, time.Since(begin).Round(time.Millisecond), healthy.Sub(begin).Round(time.Millisecond),
		time.Since(agentStart).Round(time.Millisecond))
	return nil
}

// startServer runs the server until it is healthy. The free port it was
// given may be taken by the time it binds (other tests pick ports too):
// then it tries another.
func (e *Env) startServer(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		server, err := startProcess("spire-server", e.serverBin, e.layout.ServerLog, "run", "-config", e.layout.ServerConf)
		if err != nil {
			return err
		}
		e.mu.Lock()
		e.server = server
		e.mu.Unlock()
		err = e.waitServer(ctx)
		if err == nil {
			return nil
		}
		if gone, _ := server.exited(); !gone || attempt == 3 || !logSays(e.layout.ServerLog, "address already in use") {
			return err
		}
		port, perr := freePort()
		if perr != nil {
			return perr
		}
		e.layout.Port = port
		if werr := e.layout.write(); werr != nil {
			return werr
		}
	}
}

// StopAgent stops the agent gracefully; the Workload API goes away.
func (e *Env) StopAgent(t testing.TB) {
	t.Helper()
	if p := e.takeAgent(); p != nil {
		p.stop(10 * time.Second)
	}
}

// KillAgent kills the agent with SIGKILL: the socket stays behind, dead.
func (e *Env) KillAgent(t testing.TB) {
	t.Helper()
	if p := e.takeAgent(); p != nil {
		p.kill()
	}
}

// StartAgent starts the agent again with its data directory, so that it
// resumes its identity, and waits until the workload gets an SVID.
func (e *Env) StartAgent(t testing.TB) {
	t.Helper()
	e.mu.Lock()
	running := e.agent != nil
	e.mu.Unlock()
	if running {
		t.Fatal("spiretest: StartAgent: the agent is running; call StopAgent or KillAgent first")
	}
	begin := time.Now()
	if err := e.runAgent(); err != nil {
		t.Fatalf("spiretest: %v", err)
	}
	if err := e.waitSVID(t.Context()); err != nil {
		t.Fatalf("spiretest: %v", err)
	}
	t.Logf("spiretest: agent restarted, SVID served after %s", time.Since(begin).Round(time.Millisecond))
}

func (e *Env) runAgent(extra ...string) error {
	args := append([]string{"run", "-config", e.layout.AgentConf}, extra...)
	agent, err := startProcess("spire-agent", e.agentBin, e.layout.AgentLog, args...)
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.agent = agent
	e.mu.Unlock()
	return nil
}

func (e *Env) takeAgent() *process {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.agent
	e.agent = nil
	return p
}

func (e *Env) stopAll() {
	e.mu.Lock()
	agent, server := e.agent, e.server
	e.agent, e.server = nil, nil
	e.mu.Unlock()
	for _, p := range []*process{agent, server} {
		if p != nil {
			p.stop(5 * time.Second)
		}
	}
}

// waitServer polls the server's health check until it passes.
func (e *Env) waitServer(ctx context.Context) error {
	return e.poll(ctx, "the SPIRE server to become healthy", e.server, func(ctx context.Context) error {
		out, err := exec.CommandContext(ctx, e.serverBin, "healthcheck", "-socketPath", e.layout.ServerSocket).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
		}
		return nil
	})
}

// waitSVID polls the Workload API until it hands out the workload's
// X.509-SVID. Until the entry reaches the agent it answers "no identity
// issued".
func (e *Env) waitSVID(ctx context.Context) error {
	e.mu.Lock()
	agent := e.agent
	e.mu.Unlock()
	return e.poll(ctx, "the first X.509-SVID for "+e.WorkloadID, agent, func(ctx context.Context) error {
		svids, err := workloadapi.FetchX509SVIDs(ctx, workloadapi.WithAddr(e.WorkloadAPIAddr))
		if err != nil {
			return err
		}
		for _, svid := range svids {
			if svid.ID.String() == e.WorkloadID {
				return nil
			}
		}
		return fmt.Errorf("the agent serves %d SVIDs, none for %s", len(svids), e.WorkloadID)
	})
}

// poll calls try every 100 ms until it succeeds, the daemon exits or
// StartTimeout passes.
func (e *Env) poll(ctx context.Context, what string, daemon *process, try func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, e.opts.StartTimeout)
	defer cancel()
	for {
		tryCtx, tryCancel := context.WithTimeout(ctx, 2*time.Second)
		err := try(tryCtx)
		tryCancel()
		if err == nil {
			return nil
		}
		if gone, exitErr := daemon.exited(); gone {
			return fmt.Errorf("%s exited (%v) while waiting for %s; see its log in %s", daemon.name, exitErr, what, e.Dir)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waited %s for %s: %v (logs in %s)", e.opts.StartTimeout, what, err, e.Dir)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
