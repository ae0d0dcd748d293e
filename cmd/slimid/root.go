package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "slimid",
		Short: "Identity broker for SLIM secure groups",
		Long: `slimid mints and verifies the identity tokens SLIM members carry in their MLS
credentials, through identity plugins (shared secret, JWT, SPIRE, spiffe-helper
files) that run in process or as separate binaries.

Without --config, slimid uses an embedded default: the built-in shared-secret
plugin with a secret generated once and kept (mode 0600) in the state directory.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().String("config", "", "broker configuration file (YAML); empty: the embedded default")
	root.PersistentFlags().String("state-dir", "", "state directory (default $SLIMID_STATE_DIR, $XDG_STATE_HOME/slimid or ~/.local/state/slimid)")
	root.PersistentFlags().String("log-level", "info", "log level: debug, info, warn or error")
	root.PersistentFlags().String("log-format", "text", "log format: text or json")
	root.AddCommand(newBrokerCommand(), newTokenCommand(), newVerifyCommand(), newPluginsCommand(), newVersionCommand(), newGroupCommand(), newKeyPackageCommand(), newModeratorCommand(), newDemoCommand())
	return root
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), "slimid", currentVersion())
			return nil
		},
	}
}

func currentVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "devel"
}
