package main

import (
	"encoding/base64"
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/sdk"
)

func newGroupInspectCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "inspect FILE",
		Short: "Describe an MLS message file as JSON",
		Long: `Describe an MLSMessage file: a key package (suite, credential, signature key,
lifetime, and whether it is well formed and signed; with --config or --broker
also the identity its credential proves and whether it binds the key), a
Welcome (suite and the key packages it is for), or a group message (group,
epoch, content type). Nothing in a group message is decrypted.`,
		Example: `  slimid group inspect alice.kp --config slimid.yaml
  slimid group inspect w1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := readMessage(args[0])
			if err != nil {
				return err
			}
			h, err := mls.ParseHeader(raw)
			if err != nil {
				// Bare KeyPackage bytes have no MLSMessage header.
				if kp, kerr := mls.DecodeKeyPackage(raw); kerr == nil {
					return inspectKeyPackage(cmd, kp)
				}
				return err
			}
			out := map[string]any{"wire_format": h.WireFormat.String()}
			switch h.WireFormat {
			case mls.WireKeyPackage:
				kp, err := mls.DecodeKeyPackage(raw)
				if err != nil {
					return err
				}
				return inspectKeyPackage(cmd, kp)
			case mls.WireWelcome:
				refs := make([]string, len(h.Recipients))
				for i, r := range h.Recipients {
					refs[i] = r.String()
				}
				out["suite"], out["suite_name"], out["key_packages"] = uint16(h.Suite), h.Suite.String(), refs
			case mls.WirePublicMessage, mls.WirePrivateMessage:
				out["group"], out["epoch"], out["content_type"] = string(h.GroupID), h.Epoch, h.ContentType.String()
				if h.WireFormat == mls.WirePublicMessage {
					out["sender_leaf"] = h.Sender
				}
			}
			return printJSON(cmd, out)
		},
	}
	cmd.Flags().StringArray("audience", nil, "audience the token must name when verifying (repeatable)")
	cmd.Flags().String("broker", "", "verify with the running broker on this socket")
	return cmd
}

func inspectKeyPackage(cmd *cobra.Command, kp *mls.KeyPackage) error {
	lt := kp.Lifetime()
	out := map[string]any{
		"wire_format":               mls.WireKeyPackage.String(),
		"ref":                       kp.Ref().String(),
		"suite":                     uint16(kp.Suite()),
		"suite_name":                kp.Suite().String(),
		"credential_type":           kp.CredentialType().String(),
		"signature_key":             base64.StdEncoding.EncodeToString(kp.SignatureKey()),
		"signature_key_fingerprint": moderator.Fingerprint(kp.SignatureKey()),
		"not_before":                rfc3339(lt.NotBefore),
		"not_after":                 rfc3339(lt.NotAfter),
	}
	// Signatures and lifetime, against a group of the key package's own
	// suite.
	out["valid"] = true
	if err := kp.Validate(mls.Requirements{Suite: kp.Suite(), Now: time.Now()}); err != nil {
		out["valid"], out["invalid_reason"] = false, err.Error()
	}
	if certs := kp.Certificates(); len(certs) > 0 {
		chain := make([]map[string]any, len(certs))
		for i, c := range certs {
			uris := make([]string, len(c.URIs))
			for j, u := range c.URIs {
				uris[j] = u.String()
			}
			chain[i] = map[string]any{"subject": c.Subject.String(), "uris": uris, "not_after": rfc3339(c.NotAfter)}
		}
		out["certificates"] = chain
	}
	broker, _ := cmd.Flags().GetString("broker")
	if !cmd.Flags().Changed("config") && broker == "" {
		return printJSON(cmd, out)
	}
	svc, err := openService(cmd)
	if err != nil {
		return err
	}
	defer svc.Close()
	audiences, _ := cmd.Flags().GetStringArray("audience")
	var id sdk.Identity
	switch kp.CredentialType() {
	case mls.CredentialBasic:
		id, err = svc.Verify(cmd.Context(), "", sdk.VerifyRequest{Token: string(kp.Identity()), Audiences: audiences})
	case mls.CredentialX509:
		xv, ok := svc.(moderator.X509Verifier)
		if !ok {
			err = errors.New("verifying a certificate chain needs the plugins in this process: drop --broker")
			break
		}
		id, err = xv.VerifyX509(cmd.Context(), "", kp.Certificates(), time.Now())
	}
	if err != nil {
		out["verified"], out["verify_error"] = false, err.Error()
		return printJSON(cmd, out)
	}
	out["verified"], out["identity"] = true, identityJSON(id)
	if kp.CredentialType() == mls.CredentialBasic {
		out["key_bound"] = len(id.PublicKey) > 0 && string(id.PublicKey) == string(kp.SignatureKey())
	}
	return printJSON(cmd, out)
}
