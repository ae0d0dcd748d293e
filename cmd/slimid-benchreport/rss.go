package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/brokerclient"
)

const module = "github.com/slimid/slimid/cmd/"

// binary is a built executable and its sha256.
type binary struct{ path, sha256 string }

func runRSS(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("slimid-benchreport rss", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 5*time.Minute, "bound on the whole measurement, the build included")
	load := fs.Int("verifications", 10_000, "verifications through the broker API before the second sample")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	rows, err := measureRSS(ctx, *load)
	if err != nil {
		fmt.Fprintf(stderr, "slimid-benchreport rss: %v\n", err)
		return exitUsage
	}
	if err := printTable(stdout, "slimid broker resident memory (shared_secret built in, jwt and spiffe_helper external)", rows); err != nil {
		fmt.Fprintf(stderr, "slimid-benchreport rss: %v\n", err)
		return exitUsage
	}
	return 0
}

// measureRSS builds and starts the broker, and samples its memory when
// ready and after load verifications.
func measureRSS(ctx context.Context, load int) ([]row, error) {
	// A short path: the broker's unix socket lives here.
	dir, err := os.MkdirTemp("", "sbr-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bins, err := build(ctx, filepath.Join(dir, "bin"), "slimid", "slimid-plugin-jwt", "slimid-plugin-spiffehelper")
	if err != nil {
		return nil, err
	}
	fx, err := writeFixtures(dir)
	if err != nil {
		return nil, fmt.Errorf("write fixtures: %v", err)
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	socket := filepath.Join(dir, "b.sock")
	cfg := filepath.Join(dir, "slimid.yaml")
	if err := os.WriteFile(cfg, []byte(fx.config(socket, httpAddr, bins[1], bins[2])), 0o600); err != nil {
		return nil, err
	}

	var logs bytes.Buffer
	cmd := exec.CommandContext(ctx, bins[0].path, "broker", "--config", cfg, "--log-level", "warn", "--state-dir", filepath.Join(dir, "state"))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the broker: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-exited
	}()
	if err := waitReady(ctx, httpAddr, exited, &logs); err != nil {
		return nil, err
	}
	// Let start-up garbage be collected before the first sample.
	time.Sleep(2 * time.Second)
	idle, err := treeRSS(cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	if err := verifyLoad(ctx, socket, fx, load); err != nil {
		return nil, err
	}
	loaded, err := treeRSS(cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	return []row{
		newRow("broker + plugins RSS, ready and idle", measure{v: float64(idle.total), ok: true}, idle.format, nil),
		newRow("broker + plugins RSS, after "+strings.TrimSuffix(perSecond(float64(load)), " /s")+" verifications", measure{v: float64(loaded.total), ok: true}, loaded.format, nil),
	}, nil
}

// build compiles the named commands of the module into dir.
func build(ctx context.Context, dir string, names ...string) ([]binary, error) {
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, n := range names {
		args = append(args, module+n)
	}
	out, err := exec.CommandContext(ctx, "go", args...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go build (run this from inside the slimid module): %v: %s", err, bytes.TrimSpace(out))
	}
	bins := make([]binary, len(names))
	for i, n := range names {
		path := filepath.Join(dir, n)
		sum, err := sdk.FileSHA256(path)
		if err != nil {
			return nil, err
		}
		bins[i] = binary{path: path, sha256: sum}
	}
	return bins, nil
}

// freeAddr is a loopback address with a port free right now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitReady polls /readyz until it answers 200, the broker exits or ctx
// ends.
func waitReady(ctx context.Context, addr string, exited <-chan error, logs *bytes.Buffer) error {
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get("http://" + addr + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(body))
		}
		select {
		case exitErr := <-exited:
			return fmt.Errorf("the broker exited before it was ready (%v): %s", exitErr, bytes.TrimSpace(logs.Bytes()))
		case <-ctx.Done():
			return fmt.Errorf("the broker was not ready in time: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// verifyLoad runs n verifications through the broker API, spread over the
// three plugins, from four callers.
func verifyLoad(ctx context.Context, socket string, fx *rssFixtures, n int) error {
	c, err := brokerclient.Dial(socket)
	if err != nil {
		return err
	}
	defer c.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				var plugin, token string
				switch i % 3 {
				case 0:
					tok, err := c.FetchToken(ctx, "team", sdk.TokenRequest{PublicKey: make([]byte, 32)})
					if err != nil {
						errs <- fmt.Errorf("fetch a shared-secret token: %w", err)
						return
					}
					plugin, token = "team", tok.Value
				case 1:
					tok, err := fx.jwtToken()
					if err != nil {
						errs <- fmt.Errorf("sign a jwt token: %v", err)
						return
					}
					plugin, token = "corp", tok
				default:
					plugin, token = "workload", fx.svid
				}
				if _, err := c.Verify(ctx, plugin, sdk.VerifyRequest{Token: token}); err != nil {
					errs <- fmt.Errorf("verify with %s: %w", plugin, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return errors.Join(drain(errs)...)
}

func drain(errs <-chan error) []error {
	var out []error
	for err := range errs {
		out = append(out, err)
	}
	return out
}
