package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/audit"
	"github.com/slimid/slimid/moderator/member"
	"github.com/slimid/slimid/moderator/store"
	"github.com/slimid/slimid/sdk"
)

func newGroupCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "group",
		Short: "Moderate SLIM groups (MLS) and take part in them, with files",
		Long: `Create a group and moderate it (add and remove members), or join one as a
member, with every MLS message in a file in RFC 9420 MLSMessage wire format.

A state directory (--state) holds either a moderator's groups (moderator.db)
or a member's key packages and memberships. Both hold private keys: keep
them private (slimid makes them mode 0700, files 0600).

The moderator admits a key package only if its credential verifies through
the broker, binds the key package's own signature key, names a subject not
yet in the group, and passes the group's policy.

Without --config the embedded default mints and verifies: a shared secret
kept in --state-dir, so every party using the same --state-dir on one host
trusts the others.`,
		Example: `  slimid group create --state mod --group org/ns/chat --plugin default
  slimid keypackage --state alice --out alice.kp
  slimid group add --state mod --key-package alice.kp --commit-out c1 --welcome-out w1
  slimid group join --state alice --welcome w1
  slimid group send --state alice --text hello --out m1
  slimid group receive --state mod --in m1
  slimid group remove --state mod --member "$SUBJECT" --commit-out c2`,
	}
	cmd.AddCommand(newGroupCreateCommand(), newGroupAddCommand(), newGroupRemoveCommand(), newGroupJoinCommand(),
		newGroupSendCommand(), newGroupReceiveCommand(), newGroupInspectCommand())
	return cmd
}

// stateFlag adds --state; the commands that need it mark it required.
func stateFlag(cmd *cobra.Command) {
	cmd.Flags().String("state", "", "state directory of the moderator or member (required)")
	cmd.MarkFlagRequired("state")
}

func groupFlag(cmd *cobra.Command) {
	cmd.Flags().String("group", "", "group name (default: the only group in --state)")
}

// isModeratorState reports whether dir holds a moderator's database.
func isModeratorState(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, store.FileName))
	return err == nil
}

// noVerifier stands in for the broker in commands that verify nothing
// (remove, send): any verification it is asked for is an outage, never an
// accept.
type noVerifier struct{}

func (noVerifier) Verify(context.Context, string, sdk.VerifyRequest) (sdk.Identity, error) {
	return sdk.Identity{}, sdk.Unavailable("this command does not verify credentials")
}

func (noVerifier) FetchToken(context.Context, string, sdk.TokenRequest) (sdk.Token, error) {
	return sdk.Token{}, sdk.Unavailable("this command does not fetch tokens")
}

func (noVerifier) Close() error { return nil }

// moderatorState is a moderator opened by a command, with its audit file.
type moderatorState struct {
	*moderator.Moderator
	auditLog *audit.FileSink
}

func (m *moderatorState) Close() error {
	err := m.Moderator.Close()
	if m.auditLog != nil {
		err = errors.Join(err, m.auditLog.Close())
	}
	return err
}

// openModerator opens the moderator state in --state with the broker
// service as its verifier and token source. Logs show warnings only unless
// --log-level is given; audit events go to --audit-log.
func openModerator(cmd *cobra.Command, svc identityService) (*moderatorState, error) {
	dir, _ := cmd.Flags().GetString("state")
	log, err := newLogger(cmd)
	if err != nil {
		return nil, err
	}
	if !cmd.Flags().Changed("log-level") {
		log = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	cfg := moderator.Config{StateDir: dir, Verifier: svc, Tokens: svc, Logger: log}
	st := &moderatorState{}
	if path, _ := cmd.Flags().GetString("audit-log"); path != "" {
		if st.auditLog, err = audit.OpenFile(path); err != nil {
			return nil, err
		}
		cfg.Audit = st.auditLog
	}
	if st.Moderator, err = moderator.Open(cmd.Context(), cfg); err != nil {
		if st.auditLog != nil {
			st.auditLog.Close()
		}
		return nil, err
	}
	return st, nil
}

// openModeratorGroup opens the moderator state and resolves --group among
// its groups; the caller closes the state.
func openModeratorGroup(cmd *cobra.Command, svc identityService) (*moderatorState, string, error) {
	mod, err := openModerator(cmd, svc)
	if err != nil {
		return nil, "", err
	}
	name, err := moderatorGroup(cmd, mod)
	if err != nil {
		mod.Close()
		return nil, "", err
	}
	return mod, name, nil
}

// moderatorGroup resolves --group among the moderator's groups.
func moderatorGroup(cmd *cobra.Command, mod *moderatorState) (string, error) {
	var names []string
	for _, g := range mod.Groups() {
		names = append(names, g.Name)
	}
	return pickGroup(cmd, names)
}

// pickGroup returns --group, or the only group when it is absent.
func pickGroup(cmd *cobra.Command, names []string) (string, error) {
	if name, _ := cmd.Flags().GetString("group"); name != "" {
		return name, nil
	}
	dir, _ := cmd.Flags().GetString("state")
	switch len(names) {
	case 0:
		return "", fmt.Errorf("%s holds no group; create or join one first", dir)
	case 1:
		return names[0], nil
	}
	return "", fmt.Errorf("%s holds %d groups (%s); name one with --group", dir, len(names), strings.Join(names, ", "))
}

// openMember opens --state as a member's directory and loads --group.
func openMember(cmd *cobra.Command) (*member.Dir, *member.Member, error) {
	dir, _ := cmd.Flags().GetString("state")
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("state directory %s does not exist", dir)
	}
	d, err := member.OpenDir(dir)
	if err != nil {
		return nil, nil, err
	}
	names, err := d.Groups()
	if err != nil {
		return nil, nil, err
	}
	name, err := pickGroup(cmd, names)
	if err != nil {
		return nil, nil, err
	}
	if !slices.Contains(names, name) {
		return nil, nil, fmt.Errorf("%s holds no membership in group %q (it has: %s)", dir, name, strings.Join(names, ", "))
	}
	m, err := d.Load(name)
	return d, m, err
}

// writeMessage writes an MLSMessage file and syncs it.
func writeMessage(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// readMessage reads an MLSMessage file, bounded.
func readMessage(path string) ([]byte, error) {
	const maxMessage = 64 << 20
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxMessage {
		return nil, fmt.Errorf("%s has %d bytes, more than the %d an MLS message may have here", path, fi.Size(), maxMessage)
	}
	return os.ReadFile(path)
}
