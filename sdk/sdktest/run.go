package sdktest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slimid/slimid/sdk"
)

// starter returns a fresh, unconfigured plugin behind a client.
type starter func(t *testing.T) *sdk.Client

// Run checks the plugin against the contract, in process and, when
// s.Binary is set, as an external binary.
func Run(t *testing.T, s Suite) {
	t.Helper()
	if s.NewPlugin == nil {
		t.Fatal("sdktest: Suite.NewPlugin is required")
	}
	t.Run("in-process", func(t *testing.T) {
		runChecks(t, s, func(t *testing.T) *sdk.Client {
			p, err := sdk.ServeInProcess(s.NewPlugin(), "sdktest", nil)
			if err != nil {
				t.Fatalf("serve in process: %v", err)
			}
			t.Cleanup(p.Close)
			return p.Client
		})
	})
	t.Run("external", func(t *testing.T) {
		if s.Binary == "" {
			t.Skip("Suite.Binary not set")
		}
		path, sum := BuildBinary(t, s.Binary)
		runChecks(t, s, func(t *testing.T) *sdk.Client {
			proc, err := sdk.Launch(sdk.LaunchConfig{Name: "sdktest", Path: path, SHA256: sum, Env: s.Env})
			if err != nil {
				t.Fatalf("launch: %v", err)
			}
			t.Cleanup(proc.Kill)
			return proc.Client
		})
	})
}

var builds sync.Map // import path -> *built

type built struct {
	once      sync.Once
	path, sum string
	err       error
}

// BuildBinary builds the main package at importPath once per test process
// and returns the binary's path and sha256.
func BuildBinary(t testing.TB, importPath string) (path, sha256 string) {
	t.Helper()
	v, _ := builds.LoadOrStore(importPath, &built{})
	b := v.(*built)
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "sdktest-bin-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, filepath.Base(importPath))
		out, err := exec.Command("go", "build", "-o", b.path, importPath).CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", importPath, err, out)
			return
		}
		b.sum, b.err = sdk.FileSHA256(b.path)
	})
	if b.err != nil {
		t.Fatalf("sdktest: %v", b.err)
	}
	return b.path, b.sum
}

func runChecks(t *testing.T, s Suite, start starter) {
	ctx := t.Context()

	t.Run("info names the plugin", func(t *testing.T) {
		info, err := start(t).Info(ctx)
		if err != nil {
			t.Fatalf("Info: %v", err)
		}
		if info.Name == "" || info.Version == "" {
			t.Fatalf("Info = %+v; want a name and a version", info)
		}
	})

	t.Run("calls before Configure fail as not configured", func(t *testing.T) {
		c := start(t)
		info := mustInfo(t, c)
		if info.Has(sdk.CapVerify) {
			_, err := c.Verify(ctx, sdk.VerifyRequest{Token: "x", Audiences: s.Audiences})
			wantNotConfigured(t, "Verify", err)
		}
		if info.Has(sdk.CapFetchToken) {
			_, err := c.FetchToken(ctx, sdk.TokenRequest{Audiences: s.Audiences})
			wantNotConfigured(t, "FetchToken", err)
		}
		st, err := c.Status(ctx)
		if err != nil || st.Ready {
			t.Fatalf("Status before Configure = %+v, %v; want not ready", st, err)
		}
	})

	t.Run("ValidateConfig accepts the config without applying it", func(t *testing.T) {
		c := start(t)
		if _, err := c.ValidateConfig(ctx, s.Config); err != nil {
			t.Fatalf("ValidateConfig(valid): %v", err)
		}
		if st, _ := c.Status(ctx); st.Ready {
			t.Fatal("ValidateConfig configured the plugin; it must have no side effects")
		}
	})

	for _, ic := range s.InvalidConfigs {
		t.Run("invalid config/"+ic.Name, func(t *testing.T) {
			c := start(t)
			for _, call := range []struct {
				name string
				fn   func(context.Context, []byte) ([]string, error)
			}{{"ValidateConfig", c.ValidateConfig}, {"Configure", c.Configure}} {
				_, err := call.fn(ctx, ic.Config)
				if !errors.Is(err, sdk.ErrInvalidConfig) {
					t.Fatalf("%s = %v; want an invalid-configuration error", call.name, err)
				}
				if !strings.Contains(err.Error(), ic.Want) {
					t.Fatalf("%s error %q does not contain %q", call.name, err, ic.Want)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("%s error spans several lines: %q", call.name, err)
				}
			}
		})
	}

	c := start(t)
	if _, err := c.Configure(ctx, s.Config); err != nil {
		t.Fatalf("Configure(valid): %v", err)
	}
	info := mustInfo(t, c)
	waitReady(t, c, s.ReadyTimeout)

	if len(s.InvalidConfigs) > 0 {
		t.Run("a refused reconfiguration keeps the running one", func(t *testing.T) {
			if _, err := c.Configure(ctx, s.InvalidConfigs[0].Config); err == nil {
				t.Fatal("Configure(invalid) succeeded")
			}
			if st, err := c.Status(ctx); err != nil || !st.Ready {
				t.Fatalf("Status after refused reconfiguration = %+v, %v; want ready", st, err)
			}
			if info.Has(sdk.CapFetchToken) {
				if _, err := c.FetchToken(ctx, sdk.TokenRequest{Audiences: s.Audiences}); err != nil {
					t.Fatalf("FetchToken after refused reconfiguration: %v", err)
				}
			}
		})
	}

	pub := ed25519.PublicKey(s.PublicKey)
	if pub == nil {
		pub, _, _ = ed25519.GenerateKey(rand.Reader)
	}
	token := ""
	var minted sdk.Token
	if info.Has(sdk.CapFetchToken) {
		t.Run("FetchToken returns a live token", func(t *testing.T) {
			var err error
			minted, err = c.FetchToken(ctx, sdk.TokenRequest{Audiences: s.Audiences, PublicKey: pub})
			if err != nil {
				t.Fatalf("FetchToken: %v", err)
			}
			if minted.Value == "" || !minted.ExpiresAt.After(time.Now()) {
				t.Fatalf("FetchToken = %+v; want a value that expires in the future", minted)
			}
		})
		token = minted.Value
	} else if s.Token != nil {
		token = s.Token(t)
	}

	if !info.Has(sdk.CapVerify) {
		return
	}

	if token != "" {
		t.Run("Verify accepts a valid token", func(t *testing.T) {
			id, err := c.Verify(ctx, sdk.VerifyRequest{Token: token, Audiences: s.Audiences})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if id.Subject == "" || id.ExpiresAt.IsZero() {
				t.Fatalf("Verify = %+v; want a subject and an expiry", id)
			}
			if minted.Value != "" {
				if id.Subject != minted.Subject {
					t.Fatalf("subject %q; FetchToken said %q", id.Subject, minted.Subject)
				}
				if string(id.PublicKey) != string(pub) {
					t.Fatalf("bound key %x; requested %x", id.PublicKey, pub)
				}
			}
		})

		t.Run("Verify rejects a tampered token", func(t *testing.T) {
			for name, bad := range tampered(token) {
				_, err := c.Verify(ctx, sdk.VerifyRequest{Token: bad, Audiences: s.Audiences})
				if !errors.Is(err, sdk.ErrRejected) {
					t.Fatalf("%s: Verify = %v; want a rejection", name, err)
				}
			}
		})

		if s.ChecksAudience {
			t.Run("Verify rejects another audience", func(t *testing.T) {
				_, err := c.Verify(ctx, sdk.VerifyRequest{Token: token, Audiences: []string{"sdktest-other-audience"}})
				if !errors.Is(err, sdk.ErrAudience) {
					t.Fatalf("Verify = %v; want an audience mismatch", err)
				}
			})
		}

		t.Run("Verify is safe under concurrency", func(t *testing.T) {
			var wg sync.WaitGroup
			errs := make(chan error, 32)
			for range 32 {
				wg.Go(func() {
					_, err := c.Verify(ctx, sdk.VerifyRequest{Token: token, Audiences: s.Audiences})
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatalf("concurrent Verify: %v", err)
				}
			}
		})
	}

	t.Run("Verify rejects garbage as a verdict", func(t *testing.T) {
		for name, bad := range map[string]string{
			"empty":     "",
			"text":      "not a token",
			"oversized": strings.Repeat("A", 1<<20),
			"binary":    "\x00\xff\xfe:\x01",
		} {
			_, err := c.Verify(ctx, sdk.VerifyRequest{Token: bad, Audiences: s.Audiences})
			if !errors.Is(err, sdk.ErrRejected) {
				t.Fatalf("%s: Verify = %v; want a rejection", name, err)
			}
		}
	})

	for _, rt := range s.Rejected {
		t.Run("Verify rejects/"+rt.Name, func(t *testing.T) {
			_, err := c.Verify(ctx, sdk.VerifyRequest{Token: rt.Token(t), Audiences: s.Audiences})
			if !errors.Is(err, rt.Reason) {
				t.Fatalf("Verify = %v; want %v", err, rt.Reason)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans several lines: %q", err)
			}
		})
	}

	if info.Has(sdk.CapWatchToken) {
		t.Run("WatchToken sends a token at once", func(t *testing.T) {
			got := firstToken(t, c, sdk.TokenRequest{Audiences: s.Audiences, PublicKey: pub})
			if _, err := c.Verify(ctx, sdk.VerifyRequest{Token: got.Value, Audiences: s.Audiences}); err != nil {
				t.Fatalf("Verify(watched token): %v", err)
			}
		})
	}

	if info.Has(sdk.CapWatchKeys) {
		t.Run("WatchKeys publishes a snapshot at once", func(t *testing.T) {
			snap := firstSnapshot(t, c)
			checkSnapshot(t, snap)
			if token != "" {
				checkLocalAgrees(t, c, snap, token, s.Audiences)
			}
		})
	}
}

func mustInfo(t *testing.T, c *sdk.Client) sdk.Info {
	t.Helper()
	info, err := c.Info(t.Context())
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	return info
}

func wantNotConfigured(t *testing.T, call string, err error) {
	t.Helper()
	if !errors.Is(err, sdk.ErrNotConfigured) || !errors.Is(err, sdk.ErrUnavailable) {
		t.Fatalf("%s before Configure = %v; want not configured", call, err)
	}
}

func waitReady(t *testing.T, c *sdk.Client, timeout time.Duration) {
	t.Helper()
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	deadline := time.Now().Add(timeout)
	for {
		st, err := c.Status(t.Context())
		if err == nil && st.Ready {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("plugin not ready %s after Configure: %+v, %v", timeout, st, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tampered returns variants of a valid token that must all be refused.
func tampered(token string) map[string]string {
	mid := len(token) / 2
	flip := func(i int) string {
		b := []byte(token)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	return map[string]string{
		"middle character changed": flip(mid),
		"last character changed":   flip(len(token) - 1),
		"truncated":                token[:mid],
		"doubled":                  token + token,
	}
}

func firstToken(t *testing.T, c *sdk.Client, req sdk.TokenRequest) sdk.Token {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var got sdk.Token
	stop := errors.New("got one")
	err := c.WatchToken(ctx, req, func(tok sdk.Token) error { got = tok; return stop })
	if !errors.Is(err, stop) {
		t.Fatalf("WatchToken: %v", err)
	}
	return got
}

func firstSnapshot(t *testing.T, c *sdk.Client) sdk.KeySnapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var got sdk.KeySnapshot
	stop := errors.New("got one")
	err := c.WatchKeys(ctx, func(s sdk.KeySnapshot) error { got = s; return stop })
	if !errors.Is(err, stop) {
		t.Fatalf("WatchKeys: %v", err)
	}
	return got
}
