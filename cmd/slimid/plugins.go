package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/slimid/slimid/sdk"
)

func newPluginsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugins",
		Short: "List the configured plugins with their version, checksum and state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, _, _, err := startBroker(cmd, nil, true)
			if err != nil {
				return err
			}
			defer b.Close()
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tKIND\tVERSION\tSHA256\tCAPABILITIES\tSTATUS")
			for _, p := range b.Plugins(cmd.Context()) {
				kind, sum := "built-in "+p.Type, "-"
				if p.Path != "" {
					kind, sum = "external "+p.Path, p.SHA256
				}
				caps := make([]string, len(p.Capabilities))
				for i, c := range p.Capabilities {
					caps[i] = string(c)
				}
				state := "ready"
				if !p.Ready {
					state = "not ready: " + p.Message
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, kind, p.Version, sum, strings.Join(caps, ","), state)
			}
			return w.Flush()
		},
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "checksum FILE",
		Short: "Print the sha256 to pin an external plugin binary with",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sum, err := sdk.FileSHA256(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), sum)
			return nil
		},
	})
	return cmd
}
