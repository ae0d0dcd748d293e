package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/slimid/slimid/broker"
	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/brokerclient"
)

// defaultPlugin names the embedded default's plugin entry.
const defaultPlugin = "default"

// stateDir resolves the state directory: the flag, $SLIMID_STATE_DIR,
// $XDG_STATE_HOME/slimid, or ~/.local/state/slimid.
func stateDir(cmd *cobra.Command) (string, error) {
	if dir, _ := cmd.Flags().GetString("state-dir"); dir != "" {
		return filepath.Abs(dir)
	}
	if dir := os.Getenv("SLIMID_STATE_DIR"); dir != "" {
		return filepath.Abs(dir)
	}
	if dir := os.Getenv("XDG_STATE_HOME"); dir != "" {
		return filepath.Join(dir, "slimid"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no state directory: set --state-dir or $SLIMID_STATE_DIR (%v)", err)
	}
	return filepath.Join(home, ".local", "state", "slimid"), nil
}

// loadConfig reads --config, or builds the embedded default. path is empty
// for the default.
func loadConfig(cmd *cobra.Command) (cfg *broker.Config, path string, err error) {
	path, _ = cmd.Flags().GetString("config")
	if path != "" {
		cfg, err = broker.LoadConfig(path)
		return cfg, path, err
	}
	cfg, err = embeddedDefault(cmd)
	return cfg, "", err
}

// embeddedDefault is the built-in shared-secret plugin with a secret
// generated on first use and kept, mode 0600, in the state directory, and an
// identity whose random suffix is drawn once and kept beside it (stable
// across restarts, distinct per state directory).
func embeddedDefault(cmd *cobra.Command) (*broker.Config, error) {
	dir, err := stateDir(cmd)
	if err != nil {
		return nil, err
	}
	secretPath := filepath.Join(dir, "shared-secret")
	if err := ensureSecret(secretPath); err != nil {
		return nil, err
	}
	// The secret is shared by everyone on this machine; the identity is per
	// moderator or member: a group command's --state directory keeps its own.
	identityDir := dir
	if f := cmd.Flags().Lookup("state"); f != nil && f.Value.String() != "" {
		if identityDir, err = filepath.Abs(f.Value.String()); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(identityDir, 0o700); err != nil {
			return nil, fmt.Errorf("state directory: %v", err)
		}
	}
	yaml := fmt.Sprintf(`socket: %q
plugins:
  - name: %s
    type: shared_secret
    config:
      id: %q
      file: %q
      suffix_file: %q
`, defaultSocket(dir), defaultPlugin, "slimid/local/"+userName(), secretPath, filepath.Join(identityDir, "identity-suffix"))
	return broker.ParseConfig([]byte(yaml), dir)
}

// ensureSecret creates the secret file once; an existing one must not be
// readable by others.
func ensureSecret(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("state directory: %v", err)
	}
	fi, err := os.Stat(path)
	switch {
	case err == nil:
		if fi.Mode().Perm()&0o077 != 0 {
			return fmt.Errorf("%s is readable by others (mode %o); run: chmod 600 %s", path, fi.Mode().Perm(), path)
		}
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("secret: %v", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil // another slimid created it first
	}
	if err != nil {
		return fmt.Errorf("create secret: %v", err)
	}
	if _, err := f.WriteString(base64.RawURLEncoding.EncodeToString(raw)); err != nil {
		f.Close()
		return fmt.Errorf("write secret: %v", err)
	}
	return f.Close()
}

// defaultSocket is $XDG_RUNTIME_DIR/slimid/broker.sock, or the state
// directory's broker.sock.
func defaultSocket(stateDir string) string {
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		return filepath.Join(dir, "slimid", "broker.sock")
	}
	return filepath.Join(stateDir, "broker.sock")
}

func userName() string {
	name := "user"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	return strings.Map(func(r rune) rune {
		if r == ':' || r == ' ' || r == '\t' {
			return '_'
		}
		return r
	}, name)
}

func newLogger(cmd *cobra.Command) (*slog.Logger, error) {
	levelName, _ := cmd.Flags().GetString("log-level")
	var level slog.Level
	if err := level.UnmarshalText([]byte(levelName)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", levelName)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch format, _ := cmd.Flags().GetString("log-format"); format {
	case "text":
		return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), opts)), nil
	default:
		return nil, fmt.Errorf("--log-format %q: use text or json", format)
	}
}

// startBroker loads the configuration and starts its plugins in this
// process. Short-lived commands log warnings only.
func startBroker(cmd *cobra.Command, reg prometheus.Registerer, quiet bool) (*broker.Broker, *broker.Config, string, error) {
	cfg, path, err := loadConfig(cmd)
	if err != nil {
		return nil, nil, "", fmt.Errorf("%w: %v", sdk.ErrInvalidConfig, err)
	}
	log, err := newLogger(cmd)
	if err != nil {
		return nil, nil, "", err
	}
	if quiet && !cmd.Flags().Changed("log-level") {
		log = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	b, err := broker.New(cmd.Context(), cfg, broker.Options{Builtins: builtins, Logger: log, Registerer: reg})
	if err != nil {
		return nil, nil, "", err
	}
	return b, cfg, path, nil
}

// identityService is what token and verify need: a broker in this process,
// or a running daemon reached through --broker.
type identityService interface {
	FetchToken(ctx context.Context, plugin string, req sdk.TokenRequest) (sdk.Token, error)
	Verify(ctx context.Context, plugin string, req sdk.VerifyRequest) (sdk.Identity, error)
	Close() error
}

// openService connects to --broker when given, else starts the configured
// plugins here.
func openService(cmd *cobra.Command) (identityService, error) {
	if socket, _ := cmd.Flags().GetString("broker"); socket != "" {
		if cmd.Flags().Changed("config") {
			return nil, fmt.Errorf("%w: --broker and --config exclude each other: the daemon has its own configuration", sdk.ErrInvalidConfig)
		}
		return brokerclient.Dial(socket)
	}
	b, _, _, err := startBroker(cmd, nil, true)
	if err != nil {
		return nil, err
	}
	// Give plugins that need a moment (a SPIRE agent's first bundle) the
	// time to become ready; if one does not, the call itself says why.
	wait, _ := cmd.Flags().GetDuration("ready-timeout")
	ctx, cancel := context.WithTimeout(cmd.Context(), wait)
	defer cancel()
	var names []string
	if plugin, _ := cmd.Flags().GetString("plugin"); plugin != "" {
		names = append(names, plugin)
	}
	_ = b.WaitReady(ctx, names...)
	return b, nil
}
