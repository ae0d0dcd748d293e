package spiretest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Entry is a registration entry to create.
type Entry struct {
	// ParentID defaults to the agent's alias, spiffe://<td>/agent.
	ParentID string
	SPIFFEID string
	// Selectors such as "unix:uid:1000". Default: the test's uid.
	Selectors []string
	// TTLs of the SVIDs issued for the entry. Zero: the server's defaults.
	X509SVIDTTL time.Duration
	JWTSVIDTTL  time.Duration
	// Hint tells the workload apart SVIDs of several entries.
	Hint string
	// FederatesWith lists trust domains ("other.test") whose bundles the
	// workload receives; each needs a bundle on the server (SetBundle).
	FederatesWith []string
}

// ServerCLI runs `spire-server <args>` against this server and returns its
// standard output. Subcommand words come first, then flags:
// ServerCLI(t, "entry", "show", "-output", "json").
func (e *Env) ServerCLI(t testing.TB, args ...string) []byte {
	t.Helper()
	out, err := e.serverCLI(t.Context(), args...)
	if err != nil {
		t.Fatalf("spiretest: %v", err)
	}
	return out
}

// CreateEntry registers an entry and returns its ID.
func (e *Env) CreateEntry(t testing.TB, entry Entry) string {
	t.Helper()
	id, err := e.createEntry(t.Context(), entry)
	if err != nil {
		t.Fatalf("spiretest: %v", err)
	}
	return id
}

// DeleteEntry removes an entry; the agent drops its SVIDs at the next sync.
func (e *Env) DeleteEntry(t testing.TB, id string) {
	t.Helper()
	out, err := e.serverCLI(t.Context(), "entry", "delete", "-entryID", id, "-output", "json")
	if err == nil {
		err = checkResults(out)
	}
	if err != nil {
		t.Fatalf("spiretest: delete entry %s: %v", id, err)
	}
}

// BundlePEM is the server's X.509 trust bundle (`bundle show`).
func (e *Env) BundlePEM(t testing.TB) []byte {
	t.Helper()
	return e.ServerCLI(t, "bundle", "show")
}

// BundleJWKS is the server's bundle as a SPIFFE bundle document (a JWKS
// with its X.509 and JWT authorities: `bundle show -format spiffe`).
func (e *Env) BundleJWKS(t testing.TB) []byte {
	t.Helper()
	return e.ServerCLI(t, "bundle", "show", "-format", "spiffe")
}

// SetBundle stores the SPIFFE bundle of another trust domain on the
// server, for entries that federate with it.
func (e *Env) SetBundle(t testing.TB, trustDomain string, spiffeBundle []byte) {
	t.Helper()
	if err := e.setBundle(t.Context(), trustDomain, spiffeBundle); err != nil {
		t.Fatalf("spiretest: %v", err)
	}
}

func (e *Env) setBundle(ctx context.Context, trustDomain string, spiffeBundle []byte) error {
	f, err := os.CreateTemp(e.Dir, "bundle-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(spiffeBundle)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write the bundle of %s: %v", trustDomain, err)
	}
	if _, err := e.serverCLI(ctx, "bundle", "set", "-format", "spiffe", "-id", "spiffe://"+trustDomain, "-path", f.Name()); err != nil {
		return fmt.Errorf("set the bundle of %s: %w", trustDomain, err)
	}
	return nil
}

func (e *Env) createEntry(ctx context.Context, entry Entry) (string, error) {
	if entry.ParentID == "" {
		entry.ParentID = "spiffe://" + e.TrustDomain + "/agent"
	}
	args := []string{"entry", "create", "-output", "json", "-parentID", entry.ParentID, "-spiffeID", entry.SPIFFEID}
	for _, s := range entry.Selectors {
		args = append(args, "-selector", s)
	}
	if len(entry.Selectors) == 0 {
		args = append(args, "-selector", "unix:uid:"+strconv.Itoa(os.Getuid()))
	}
	if entry.X509SVIDTTL > 0 {
		args = append(args, "-x509SVIDTTL", strconv.FormatInt(int64(entry.X509SVIDTTL/time.Second), 10))
	}
	if entry.JWTSVIDTTL > 0 {
		args = append(args, "-jwtSVIDTTL", strconv.FormatInt(int64(entry.JWTSVIDTTL/time.Second), 10))
	}
	if entry.Hint != "" {
		args = append(args, "-hint", entry.Hint)
	}
	for _, td := range entry.FederatesWith {
		args = append(args, "-federatesWith", "spiffe://"+td)
	}
	out, err := e.serverCLI(ctx, args...)
	if err != nil {
		return "", err
	}
	var resp struct {
		Results []struct {
			Entry struct {
				ID string `json:"id"`
			} `json:"entry"`
		} `json:"results"`
	}
	if err := checkResults(out); err != nil {
		return "", fmt.Errorf("create entry %s: %v", entry.SPIFFEID, err)
	}
	if err := json.Unmarshal(out, &resp); err != nil || len(resp.Results) != 1 || resp.Results[0].Entry.ID == "" {
		return "", fmt.Errorf("create entry %s: unexpected output %q", entry.SPIFFEID, out)
	}
	return resp.Results[0].Entry.ID, nil
}

// checkResults reads the per-item status that batch commands print in
// JSON: they exit 0 even when every item failed.
func checkResults(out []byte) error {
	var resp struct {
		Results []struct {
			Status struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"status"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		return fmt.Errorf("unexpected output %q: %v", out, err)
	}
	for _, r := range resp.Results {
		if r.Status.Code != 0 {
			return fmt.Errorf("%s (code %d)", r.Status.Message, r.Status.Code)
		}
	}
	return nil
}

// serverCLI inserts -socketPath after the subcommand words.
func (e *Env) serverCLI(ctx context.Context, args ...string) ([]byte, error) {
	split := len(args)
	for i, a := range args {
		if strings.HasPrefix(a, "-") {
			split = i
			break
		}
	}
	full := append(append(append([]string{}, args[:split]...), "-socketPath", e.layout.ServerSocket), args[split:]...)
	cmd := exec.CommandContext(ctx, e.serverBin, full...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("spire-server %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()+string(out)))
	}
	return out, nil
}
