package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/brokerclient"
	"github.com/slimid/slimid/sdk/sdktest"
)

const secret = "cli-test-secret-0123456789abcdef0123"

// run executes slimid with args and stdin; it returns stdout, stderr and the
// exit code.
func run(t *testing.T, env []string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	bin, _ := sdktest.BuildBinary(t, "github.com/slimid/slimid/cmd/slimid")
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

func stateEnv(t *testing.T) []string {
	return []string{"SLIMID_STATE_DIR=" + t.TempDir(), "XDG_RUNTIME_DIR="}
}

func writeConfig(t *testing.T, dir, body string) string {
	t.Helper()
	path := filepath.Join(dir, "slimid.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func teamConfig(extra string) string {
	return fmt.Sprintf("plugins:\n  - name: team\n    type: shared_secret\n    config:\n      id: org/ns/alice\n      data: %q\n%s", secret, extra)
}

func TestEmbeddedDefaultTokenThenVerify(t *testing.T) {
	env := stateEnv(t)
	tok, stderr, code := run(t, env, "", "token", "--pubkey", "AQIDBA==")
	if code != 0 {
		t.Fatalf("token: exit %d: %s", code, stderr)
	}
	out, stderr, code := run(t, env, tok, "verify")
	if code != 0 {
		t.Fatalf("verify: exit %d: %s", code, stderr)
	}
	var id map[string]any
	if err := json.Unmarshal([]byte(out), &id); err != nil {
		t.Fatalf("verify output is not JSON: %v\n%s", err, out)
	}
	if id["public_key"] != "AQIDBA==" || id["provider"] != "default" || !strings.HasPrefix(id["subject"].(string), "slimid/local/") {
		t.Fatalf("identity = %v", id)
	}
	if _, err := time.Parse(time.RFC3339, id["expires_at"].(string)); err != nil {
		t.Fatalf("expires_at: %v", err)
	}
	dir := strings.TrimPrefix(env[0], "SLIMID_STATE_DIR=")
	fi, err := os.Stat(filepath.Join(dir, "shared-secret"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v, %v; want mode 0600", fi, err)
	}
	// The secret is generated once: a later run verifies the earlier token.
	if _, stderr, code := run(t, env, tok, "verify"); code != 0 {
		t.Fatalf("second verify: exit %d: %s", code, stderr)
	}
}

func TestVerifyExitCodes(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, teamConfig(""))
	tok, stderr, code := run(t, nil, "", "token", "--config", cfg, "--plugin", "team", "--audience", "slim")
	if code != 0 {
		t.Fatalf("token: %d %s", code, stderr)
	}
	tok = strings.TrimSpace(tok)
	for _, tc := range []struct {
		name       string
		args       []string
		stdin      string
		wantCode   int
		wantStderr string
	}{
		{"accepted", []string{"--plugin", "team", "--audience", "slim", "--token", tok}, "", 0, ""},
		{"from stdin", []string{"--audience", "slim"}, tok + "\n", 0, ""},
		{"other audience", []string{"--plugin", "team", "--audience", "other", "--token", tok}, "", 1, `slimid: plugin(team): shared-secret token is for ["slim"]; expected one of ["other"]` + "\n"},
		{"tampered", []string{"--token", tok + "x"}, "", 1, "slimid: plugin(team): shared-secret token: mac is not 32 bytes of base64url\n"},
		{"empty stdin", nil, "", 2, "slimid: no token: pass --token or pipe one on stdin\n"},
		{"unknown plugin", []string{"--plugin", "nosuch", "--token", tok}, "", 2, `slimid: unknown plugin "nosuch" (configured: team)` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := run(t, nil, tc.stdin, append([]string{"verify", "--config", cfg}, tc.args...)...)
			if code != tc.wantCode || stderr != tc.wantStderr {
				t.Fatalf("exit %d, stderr %q; want %d, %q", code, stderr, tc.wantCode, tc.wantStderr)
			}
		})
	}
}

func TestConfigErrorsExitTwo(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, config, want string }{
		{"unknown broker key", "plugins:\n  - name: team\n    type: shared_secret\n    confg: {}\n", `unknown key "confg" at plugins[0] (line 4)`},
		{"unknown plugin key", teamConfig("      secrets: x\n"), `plugins[0].config: plugin(team): unknown key "secrets" at the top level (line 7)`},
		{"short secret", "plugins:\n  - {name: team, type: shared_secret, config: {id: a, data: tooshort}}\n", "plugins[0].config: plugin(team): secret is 8 bytes; it must be at least 32 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := writeConfig(t, dir, tc.config)
			_, stderr, code := run(t, nil, "", "token", "--config", cfg)
			if code != 2 || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
				t.Fatalf("exit %d, stderr %q; want 2 and one line containing %q", code, stderr, tc.want)
			}
		})
	}
}

func TestPluginsListAndChecksumAndExternal(t *testing.T) {
	bin, sum := sdktest.BuildBinary(t, "github.com/slimid/slimid/cmd/slimid-plugin-sharedsecret")
	out, _, code := run(t, nil, "", "plugins", "checksum", bin)
	if code != 0 || strings.TrimSpace(out) != sum {
		t.Fatalf("checksum = %q (exit %d); want %s", out, code, sum)
	}
	dir := t.TempDir()
	cfg := writeConfig(t, dir, teamConfig("")+fmt.Sprintf("  - name: ext\n    path: %s\n    sha256: %s\n    config: {id: org/ns/bob, data: %q}\n", bin, sum, secret))
	out, stderr, code := run(t, nil, "", "plugins", "--config", cfg)
	if code != 0 {
		t.Fatalf("plugins: %d %s", code, stderr)
	}
	for _, want := range []string{"team  built-in shared_secret", "ext   external " + bin, sum, "fetch_token,verify", "ready"} {
		if !strings.Contains(out, want) {
			t.Fatalf("plugins output lacks %q:\n%s", want, out)
		}
	}
	tok, _, _ := run(t, nil, "", "token", "--config", cfg, "--plugin", "ext")
	if out, stderr, code := run(t, nil, tok, "verify", "--config", cfg, "--plugin", "ext"); code != 0 || !strings.Contains(out, `"provider": "ext"`) {
		t.Fatalf("verify with the external plugin: %d %s %s", code, out, stderr)
	}
}

// The daemon serves on a 0600 socket, reloads on SIGHUP and stops cleanly
// on SIGTERM.
func TestBrokerDaemon(t *testing.T) {
	bin, _ := sdktest.BuildBinary(t, "github.com/slimid/slimid/cmd/slimid")
	dir, err := os.MkdirTemp("", "sd")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	socket := filepath.Join(dir, "b.sock")
	cfg := writeConfig(t, dir, "socket: "+socket+"\n"+teamConfig(""))
	cmd := exec.Command(bin, "broker", "--config", cfg)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitFor(t, func() bool { _, err := os.Stat(socket); return err == nil })
	fi, _ := os.Stat(socket)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v", fi.Mode())
	}
	c, err := brokerclient.Dial(socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	tok, err := c.FetchToken(ctx, "team", sdk.TokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Verify(ctx, "", sdk.VerifyRequest{Token: tok.Value}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Verify(ctx, "", sdk.VerifyRequest{Token: tok.Value + "x"}); !errors.Is(err, sdk.ErrInvalid) {
		t.Fatalf("tampered through the daemon = %v; want a rejection", err)
	}

	writeConfig(t, dir, "socket: "+socket+"\n"+teamConfig("")+fmt.Sprintf("  - name: second\n    type: shared_secret\n    config: {id: org/ns/b, data: %q}\n", secret))
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		list, err := c.Plugins(ctx)
		return err == nil && len(list) == 2
	})
	if _, err := c.Verify(ctx, "second", sdk.VerifyRequest{Token: tok.Value}); err != nil {
		t.Fatalf("reloaded plugin: %v", err)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("daemon exit: %v\n%s", err, logs.String())
	}
	if _, err := os.Stat(socket); !os.IsNotExist(err) {
		t.Fatalf("socket left behind: %v", err)
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 15 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
