package main

import (
	"encoding/base64"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/slimid/slimid/sdk"
)

func newTokenCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print a token for the local workload",
		Long: `Print a token from a plugin on stdout. --pubkey binds a public key (the MLS
signature key) into the token as its pubkey claim.`,
		Example: `  slimid token --config slimid.yaml --plugin team --audience slim
  slimid token --pubkey "$(base64 -w0 key.pub)"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			plugin, _ := cmd.Flags().GetString("plugin")
			audiences, _ := cmd.Flags().GetStringArray("audience")
			pubB64, _ := cmd.Flags().GetString("pubkey")
			ttl, _ := cmd.Flags().GetDuration("ttl")
			req := sdk.TokenRequest{Audiences: audiences, TTLHint: ttl}
			if pubB64 != "" {
				key, err := base64.StdEncoding.DecodeString(pubB64)
				if err != nil {
					return fmt.Errorf("--pubkey is not standard base64: %v", err)
				}
				req.PublicKey = key
			}
			b, err := openService(cmd)
			if err != nil {
				return err
			}
			defer b.Close()
			tok, err := b.FetchToken(cmd.Context(), plugin, req)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok.Value)
			return nil
		},
	}
	cmd.Flags().String("plugin", "", "plugin entry to ask (default: the only one that mints)")
	cmd.Flags().StringArray("audience", nil, "audience the token is for (repeatable)")
	cmd.Flags().String("pubkey", "", "public key to bind, standard base64")
	cmd.Flags().Duration("ttl", 0, "desired lifetime (plugins may cap it)")
	cmd.Flags().Duration("ready-timeout", 10*time.Second, "how long to wait for the plugin to become ready")
	cmd.Flags().String("broker", "", "use the running broker on this socket instead of starting plugins here")
	return cmd
}
