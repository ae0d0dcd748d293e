package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/member"
	"github.com/slimid/slimid/moderator/mls"
)

func newGroupCreateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a group; this moderator is its first member",
		Long: `Create a group in the moderator state directory. The moderator's credential is a
token from --plugin bound to a fresh signature key, verified like any member's.
--policy names an admission policy file; without it every verified identity is
admitted. Prints the group as JSON.`,
		Example: `  slimid group create --config slimid.yaml --plugin team --state mod --group org/ns/chat --audience slim`,
		Args:    cobra.NoArgs,
		RunE:    runGroupCreate,
	}
	stateFlag(cmd)
	cmd.Flags().String("group", "", "group name, for SLIM the channel org/namespace/name (required)")
	cmd.MarkFlagRequired("group")
	cmd.Flags().String("plugin", "", "plugin entry the moderator's tokens come from (default: the only one that mints)")
	cmd.Flags().Uint16("suite", uint16(mls.SuiteP256AES128GCM), "MLS ciphersuite: 1, 2 (SLIM's default) or 3")
	cmd.Flags().String("policy", "", "admission policy file (YAML)")
	cmd.Flags().StringArray("audience", nil, "audience members' tokens must name (repeatable; any of them)")
	cmd.Flags().String("broker", "", "use the running broker on this socket instead of starting plugins here")
	cmd.Flags().String("audit-log", "", "append audit events to this JSON-lines file")
	return cmd
}

func runGroupCreate(cmd *cobra.Command, _ []string) error {
	name, _ := cmd.Flags().GetString("group")
	plugin, _ := cmd.Flags().GetString("plugin")
	suiteNum, _ := cmd.Flags().GetUint16("suite")
	audiences, _ := cmd.Flags().GetStringArray("audience")
	suite := mls.Suite(suiteNum)
	if err := suite.Validate(); err != nil {
		return fmt.Errorf("--suite %d: use 1, 2 or 3", suiteNum)
	}
	var pol []byte
	if path, _ := cmd.Flags().GetString("policy"); path != "" {
		var err error
		if pol, err = os.ReadFile(path); err != nil {
			return fmt.Errorf("--policy: %v", err)
		}
	}
	svc, err := openService(cmd)
	if err != nil {
		return err
	}
	defer svc.Close()
	signer, err := mls.GenerateSigner(suite)
	if err != nil {
		return err
	}
	cred, err := member.FetchToken(cmd.Context(), svc, plugin, signer, audiences)
	if err != nil {
		return err
	}
	mod, err := openModerator(cmd, svc)
	if err != nil {
		return err
	}
	defer mod.Close()
	info, err := mod.CreateGroup(cmd.Context(), moderator.GroupSpec{
		Name: name, Suite: suite, Policy: pol, Audiences: audiences, Plugin: plugin, Signer: signer, Credential: cred.Credential,
	})
	if err != nil {
		return err
	}
	roster, err := mod.Members(name)
	if err != nil {
		return err
	}
	return printJSON(cmd, map[string]any{
		"group": info.Name, "suite": uint16(info.Suite), "epoch": info.Epoch,
		"moderator": roster[0].Subject, "expires_at": rfc3339(roster[0].ExpiresAt),
	})
}

func printJSON(cmd *cobra.Command, v any) error {
	out := json.NewEncoder(cmd.OutOrStdout())
	out.SetIndent("", "  ")
	return out.Encode(v)
}
