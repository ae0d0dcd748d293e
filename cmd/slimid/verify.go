package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/slimid/slimid/sdk"
)

// maxTokenInput bounds what verify reads from stdin.
const maxTokenInput = 1 << 20

func newVerifyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Verify a token and print the identity it proves",
		Long: `Verify a token (from --token, else stdin) and print the identity as JSON.
Without --plugin every verifying plugin is tried in configuration order.

Exit status: 0 accepted; 1 rejected (the reason on stderr); 2 a usage or
configuration error; 3 a plugin could not decide (an outage).`,
		Example: `  slimid token | slimid verify
  slimid verify --config slimid.yaml --plugin corp --audience slim --token "$TOKEN"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			plugin, _ := cmd.Flags().GetString("plugin")
			audiences, _ := cmd.Flags().GetStringArray("audience")
			token, _ := cmd.Flags().GetString("token")
			if !cmd.Flags().Changed("token") {
				var err error
				if token, err = readToken(cmd.InOrStdin()); err != nil {
					return err
				}
			}
			b, err := openService(cmd)
			if err != nil {
				return err
			}
			defer b.Close()
			id, err := b.Verify(cmd.Context(), plugin, sdk.VerifyRequest{Token: token, Audiences: audiences})
			if err != nil {
				return err
			}
			out := json.NewEncoder(cmd.OutOrStdout())
			out.SetIndent("", "  ")
			return out.Encode(identityJSON(id))
		},
	}
	cmd.Flags().String("plugin", "", "plugin entry to verify with (default: try each)")
	cmd.Flags().StringArray("audience", nil, "expected audience (repeatable; any of them)")
	cmd.Flags().String("token", "", "the token (default: read from stdin)")
	cmd.Flags().Duration("ready-timeout", 10*time.Second, "how long to wait for the plugin to become ready")
	cmd.Flags().String("broker", "", "use the running broker on this socket instead of starting plugins here")
	return cmd
}

// readToken reads one token from r: surrounding white space is dropped.
func readToken(r io.Reader) (string, error) {
	raw, err := io.ReadAll(io.LimitReader(bufio.NewReader(r), maxTokenInput+1))
	if err != nil {
		return "", fmt.Errorf("read token from stdin: %v", err)
	}
	if len(raw) > maxTokenInput {
		return "", sdk.Reject(sdk.ErrInvalid, "token on stdin is longer than %d bytes", maxTokenInput)
	}
	tok := strings.TrimSpace(string(raw))
	if tok == "" {
		return "", errors.New("no token: pass --token or pipe one on stdin")
	}
	return tok, nil
}

// verifiedIdentity is verify's JSON output.
type verifiedIdentity struct {
	Subject   string         `json:"subject"`
	Issuer    string         `json:"issuer,omitempty"`
	Audiences []string       `json:"audiences"`
	IssuedAt  string         `json:"issued_at,omitempty"`
	ExpiresAt string         `json:"expires_at"`
	PublicKey string         `json:"public_key,omitempty"`
	Provider  string         `json:"provider"`
	Claims    map[string]any `json:"claims"`
}

func identityJSON(id sdk.Identity) verifiedIdentity {
	out := verifiedIdentity{
		Subject:   id.Subject,
		Issuer:    id.Issuer,
		Audiences: id.Audiences,
		ExpiresAt: rfc3339(id.ExpiresAt),
		IssuedAt:  rfc3339(id.IssuedAt),
		Provider:  id.Provider,
		Claims:    id.Claims,
	}
	if out.Audiences == nil {
		out.Audiences = []string{}
	}
	if out.Claims == nil {
		out.Claims = map[string]any{}
	}
	if len(id.PublicKey) > 0 {
		out.PublicKey = base64.StdEncoding.EncodeToString(id.PublicKey)
	}
	return out
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
