package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/member"
	"github.com/slimid/slimid/moderator/mls"
)

func newKeyPackageCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keypackage",
		Short: "Make an MLS key package whose credential is a token bound to its key",
		Long: `Generate a signature key, fetch a token from --plugin with the key bound to it
(the pubkey claim), and write a key package carrying the token as its
BasicCredential to --out, as SLIM does. With --x509 the credential is the
workload's X.509-SVID instead, and its key the signature key (suite 2).
The private keys stay in --state until "slimid group join" uses them.
Prints the key package's reference and subject as JSON.`,
		Example: `  slimid keypackage --config slimid.yaml --plugin team --state alice --out alice.kp`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			plugin, _ := cmd.Flags().GetString("plugin")
			dir, _ := cmd.Flags().GetString("state")
			out, _ := cmd.Flags().GetString("out")
			suiteNum, _ := cmd.Flags().GetUint16("suite")
			audiences, _ := cmd.Flags().GetStringArray("audience")
			useX509, _ := cmd.Flags().GetBool("x509")
			suite := mls.Suite(suiteNum)
			if err := suite.Validate(); err != nil {
				return fmt.Errorf("--suite %d: use 1, 2 or 3", suiteNum)
			}
			d, err := member.OpenDir(dir)
			if err != nil {
				return err
			}
			svc, err := openService(cmd)
			if err != nil {
				return err
			}
			defer svc.Close()
			var cred member.Credential
			if useX509 {
				src, ok := svc.(member.X509Fetcher)
				if !ok {
					return fmt.Errorf("--x509 needs the plugins in this process: drop --broker")
				}
				if cmd.Flags().Changed("suite") && suite != mls.SuiteP256AES128GCM {
					return fmt.Errorf("--x509 uses the SVID's P-256 key: --suite must be 2")
				}
				cred, err = member.FetchX509(cmd.Context(), src, plugin)
			} else {
				var signer *mls.Signer
				if signer, err = mls.GenerateSigner(suite); err == nil {
					cred, err = member.FetchToken(cmd.Context(), svc, plugin, signer, audiences)
				}
			}
			if err != nil {
				return err
			}
			bundle, err := cred.KeyPackage()
			if err != nil {
				return err
			}
			if err := d.SaveKeyPackage(bundle, cred); err != nil {
				return err
			}
			kp := bundle.KeyPackage()
			if err := writeMessage(out, kp.Bytes()); err != nil {
				return fmt.Errorf("--out: %v", err)
			}
			return printJSON(cmd, map[string]any{
				"ref": kp.Ref().String(), "suite": uint16(kp.Suite()), "credential_type": kp.CredentialType().String(),
				"signature_key": moderator.Fingerprint(kp.SignatureKey()), "expires_at": rfc3339(cred.ExpiresAt),
			})
		},
	}
	stateFlag(cmd)
	cmd.Flags().String("plugin", "", "plugin entry the token comes from (default: the only one that mints)")
	cmd.Flags().Uint16("suite", uint16(mls.SuiteP256AES128GCM), "MLS ciphersuite: 1, 2 (SLIM's default) or 3")
	cmd.Flags().StringArray("audience", nil, "audience to request in the token (repeatable)")
	cmd.Flags().Bool("x509", false, "use the workload's X.509-SVID as the credential (suite 2)")
	cmd.Flags().String("out", "", "where to write the key package (required)")
	cmd.MarkFlagRequired("out")
	cmd.Flags().String("broker", "", "use the running broker on this socket instead of starting plugins here")
	return cmd
}
