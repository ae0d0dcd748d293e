package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/sdk"
)

func newGroupAddCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Admit members: verify their key packages and commit the Add",
		Long: `Admit the owners of key packages (files, MLSMessage or bare KeyPackage) in one
commit with one Welcome. A key package is refused unless it is valid for the
group, its credential verifies through the broker, the token binds the key
package's own signature key, its subject is not yet a member, and the group's
policy admits it. Writes the commit (for the current members) and the Welcome
(for the new ones), then prints the admitted members as JSON.

Exit status: 0 all admitted; 1 a key package was refused (one line per
refusal on stderr; the others are still admitted); 2 a usage or state error;
3 the broker could not decide.`,
		Example: `  slimid group add --config slimid.yaml --state mod --key-package alice.kp --commit-out c1 --welcome-out w1`,
		Args:    cobra.NoArgs,
		RunE:    runGroupAdd,
	}
	stateFlag(cmd)
	groupFlag(cmd)
	cmd.Flags().StringArray("key-package", nil, "key package file (repeatable; all are admitted in one commit)")
	cmd.MarkFlagRequired("key-package")
	cmd.Flags().String("commit-out", "", "where to write the commit for the current members (required)")
	cmd.MarkFlagRequired("commit-out")
	cmd.Flags().String("welcome-out", "", "where to write the Welcome for the new members (required)")
	cmd.MarkFlagRequired("welcome-out")
	cmd.Flags().String("broker", "", "use the running broker on this socket instead of starting plugins here")
	cmd.Flags().String("audit-log", "", "append audit events to this JSON-lines file")
	return cmd
}

func runGroupAdd(cmd *cobra.Command, _ []string) error {
	paths, _ := cmd.Flags().GetStringArray("key-package")
	commitOut, _ := cmd.Flags().GetString("commit-out")
	welcomeOut, _ := cmd.Flags().GetString("welcome-out")
	kps := make([][]byte, len(paths))
	for i, p := range paths {
		var err error
		if kps[i], err = readMessage(p); err != nil {
			return fmt.Errorf("--key-package: %v", err)
		}
	}
	svc, err := openService(cmd)
	if err != nil {
		return err
	}
	defer svc.Close()
	mod, name, err := openModeratorGroup(cmd, svc)
	if err != nil {
		return err
	}
	defer mod.Close()
	res, err := mod.Admit(cmd.Context(), name, kps...)
	if err != nil {
		return err
	}
	if res.Commit != nil {
		if err := deliverFiles(mod, name, res.Commit, commitOut, welcomeOut); err != nil {
			return err
		}
		admitted := make([]map[string]any, len(res.Admitted))
		for i, a := range res.Admitted {
			admitted[i] = map[string]any{"key_package": paths[a.Index], "subject": a.Member.Subject, "leaf": a.Member.Leaf,
				"provider": a.Member.Provider, "expires_at": rfc3339(a.Member.ExpiresAt)}
		}
		if err := printJSON(cmd, map[string]any{"group": name, "epoch": res.Epoch, "admitted": admitted}); err != nil {
			return err
		}
	}
	return refusals(cmd, res.Refused, paths)
}

// refusals reports every refusal but the last on stderr and returns the
// last, which main prints; the error class of the worst decides the exit.
func refusals(cmd *cobra.Command, refused []moderator.Refusal, paths []string) error {
	if len(refused) == 0 {
		return nil
	}
	prefix := func(r moderator.Refusal) string {
		if len(paths) > 1 {
			return paths[r.Index] + ": "
		}
		return ""
	}
	var outage error
	for _, r := range refused[:len(refused)-1] {
		fmt.Fprintln(cmd.ErrOrStderr(), "slimid: "+prefix(r)+oneLine(r.Err))
		if errors.Is(r.Err, sdk.ErrUnavailable) {
			outage = r.Err
		}
	}
	last := refused[len(refused)-1]
	err := last.Err
	if p := prefix(last); p != "" {
		err = &prefixed{msg: p + last.Err.Error(), err: last.Err}
	}
	if outage != nil && !errors.Is(err, sdk.ErrUnavailable) {
		return errors.Join(err, sdk.ErrUnavailable)
	}
	return err
}

type prefixed struct {
	msg string
	err error
}

func (p *prefixed) Error() string { return p.msg }
func (p *prefixed) Unwrap() error { return p.err }

// deliverFiles writes a commit and its Welcome, then marks them delivered.
func deliverFiles(mod *moderatorState, group string, out *moderator.Outgoing, commitPath, welcomePath string) error {
	if err := writeMessage(commitPath, out.Messages[len(out.Messages)-1]); err != nil {
		return fmt.Errorf("--commit-out: %v (the commit to epoch %d is saved; the group is at that epoch)", err, out.Epoch)
	}
	if welcomePath != "" && out.Welcome != nil {
		if err := writeMessage(welcomePath, out.Welcome); err != nil {
			return fmt.Errorf("--welcome-out: %v (the commit to epoch %d is saved; the group is at that epoch)", err, out.Epoch)
		}
	}
	return mod.Delivered(group, out.Epoch)
}

func newGroupRemoveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "remove",
		Short: "Remove a member and write the commit",
		Long: `Remove the member with the given subject in one commit, written to --commit-out
for every member, the removed one included. Prints the new epoch as JSON.`,
		Example: `  slimid group remove --state mod --member org/ns/alice_Ab3dE9xQ --commit-out c2`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			subject, _ := cmd.Flags().GetString("member")
			reason, _ := cmd.Flags().GetString("reason")
			commitOut, _ := cmd.Flags().GetString("commit-out")
			mod, name, err := openModeratorGroup(cmd, noVerifier{})
			if err != nil {
				return err
			}
			defer mod.Close()
			out, err := mod.Remove(cmd.Context(), name, subject, reason)
			if err != nil {
				return err
			}
			if err := deliverFiles(mod, name, out, commitOut, ""); err != nil {
				return err
			}
			return printJSON(cmd, map[string]any{"group": name, "epoch": out.Epoch, "removed": strings.Join(out.Removed, ", ")})
		},
	}
	stateFlag(cmd)
	groupFlag(cmd)
	cmd.Flags().String("member", "", "subject of the member to remove (required)")
	cmd.MarkFlagRequired("member")
	cmd.Flags().String("reason", "", "why, for the audit log")
	cmd.Flags().String("commit-out", "", "where to write the commit (required)")
	cmd.MarkFlagRequired("commit-out")
	cmd.Flags().String("audit-log", "", "append audit events to this JSON-lines file")
	return cmd
}
