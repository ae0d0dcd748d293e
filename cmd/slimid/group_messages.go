package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/slimid/slimid/moderator/member"
	"github.com/slimid/slimid/moderator/mls"
)

func newGroupSendCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "send",
		Short: "Encrypt an application message for the group",
		Long: `Encrypt --text for the group as an MLS application message written to --out,
as the moderator or as a member, whichever --state holds. The state is saved
before the message is written, so a message key is never used twice.`,
		Example: `  slimid group send --state alice --text hello --out m1`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			text, _ := cmd.Flags().GetString("text")
			outPath, _ := cmd.Flags().GetString("out")
			dir, _ := cmd.Flags().GetString("state")
			var msg []byte
			if isModeratorState(dir) {
				mod, name, err := openModeratorGroup(cmd, noVerifier{})
				if err != nil {
					return err
				}
				defer mod.Close()
				if msg, err = mod.Send(cmd.Context(), name, []byte(text)); err != nil {
					return err
				}
			} else {
				d, m, err := openMember(cmd)
				if err != nil {
					return err
				}
				if msg, err = m.Send([]byte(text)); err != nil {
					return err
				}
				if err := d.Save(m); err != nil {
					return err
				}
			}
			if err := writeMessage(outPath, msg); err != nil {
				return fmt.Errorf("--out: %v", err)
			}
			return nil
		},
	}
	stateFlag(cmd)
	groupFlag(cmd)
	cmd.Flags().String("text", "", "the message")
	cmd.Flags().String("out", "", "where to write the MLS message (required)")
	cmd.MarkFlagRequired("out")
	return cmd
}

func newGroupReceiveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "receive",
		Short: "Take a message from the group: print its text or apply its commit",
		Long: `Process an MLS message from --in, as the moderator or as a member, whichever
--state holds. An application message's text is printed on stdout. A member
applies a commit (in epoch order: an early one is held, one already applied
is ignored). The moderator checks a member's Update proposal (the successor
rule) and commits it to --commit-out.`,
		Example: `  slimid group receive --state alice --in c1
  slimid group receive --state mod --in update --commit-out c3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			inPath, _ := cmd.Flags().GetString("in")
			dir, _ := cmd.Flags().GetString("state")
			msg, err := readMessage(inPath)
			if err != nil {
				return fmt.Errorf("--in: %v", err)
			}
			if isModeratorState(dir) {
				return moderatorReceive(cmd, msg)
			}
			d, m, err := openMember(cmd)
			if err != nil {
				return err
			}
			events, err := m.Receive(msg)
			if serr := d.Save(m); serr != nil && err == nil {
				err = serr
			}
			for _, e := range events {
				switch e.Kind {
				case member.Application:
					fmt.Fprintln(cmd.OutOrStdout(), string(e.Data))
				case member.Removed:
					fmt.Fprintf(cmd.ErrOrStderr(), "slimid: this member was removed from group %q at epoch %d\n", m.GroupID(), e.Epoch)
				}
			}
			return err
		},
	}
	stateFlag(cmd)
	groupFlag(cmd)
	cmd.Flags().String("in", "", "the MLS message file (required)")
	cmd.MarkFlagRequired("in")
	cmd.Flags().String("commit-out", "", "moderator: where to write the commit of an accepted Update")
	cmd.Flags().String("broker", "", "use the running broker on this socket instead of starting plugins here")
	cmd.Flags().String("audit-log", "", "append audit events to this JSON-lines file")
	return cmd
}

func moderatorReceive(cmd *cobra.Command, msg []byte) error {
	commitOut, _ := cmd.Flags().GetString("commit-out")
	h, err := mls.ParseHeader(msg)
	if err != nil {
		return err
	}
	var svc identityService = noVerifier{}
	if h.ContentType == mls.ContentProposal {
		if commitOut == "" {
			return fmt.Errorf("the message is a proposal, which the moderator commits: pass --commit-out")
		}
		if svc, err = openService(cmd); err != nil {
			return err
		}
		defer svc.Close()
	}
	mod, name, err := openModeratorGroup(cmd, svc)
	if err != nil {
		return err
	}
	defer mod.Close()
	got, err := mod.HandleMessage(cmd.Context(), name, msg)
	if err != nil {
		return err
	}
	if got.Kind == mls.KindApplication {
		fmt.Fprintln(cmd.OutOrStdout(), string(got.Data))
		return nil
	}
	// The proposal and the commit go to every member, in this order; the
	// file holds the commit, the proposal is the file that came in.
	return deliverFiles(mod, name, got.Commit, commitOut, "")
}

func newGroupJoinCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "join",
		Short: "Join a group from a Welcome, with a key package made by slimid keypackage",
		Long: `Join the group a Welcome invites one of the key packages in --state to, and
print the membership as JSON.`,
		Example: `  slimid group join --state alice --welcome w1`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, _ := cmd.Flags().GetString("welcome")
			dir, _ := cmd.Flags().GetString("state")
			welcome, err := readMessage(path)
			if err != nil {
				return fmt.Errorf("--welcome: %v", err)
			}
			d, err := member.OpenDir(dir)
			if err != nil {
				return err
			}
			m, err := d.Join(welcome)
			if err != nil {
				return err
			}
			return printJSON(cmd, map[string]any{"group": string(m.GroupID()), "epoch": m.Epoch(), "leaf": m.Leaf(), "members": len(m.Members())})
		},
	}
	stateFlag(cmd)
	cmd.Flags().String("welcome", "", "the Welcome file (required)")
	cmd.MarkFlagRequired("welcome")
	return cmd
}
