package tsmls

import "context"

// Validation is one question ts-mls put to the peer's AuthenticationService:
// which credential it checked, during which command, and the verdict.
type Validation struct {
	Command            string `json:"command"`
	Group              string `json:"group"`
	CredentialType     string `json:"credential_type"`
	Identity           []byte `json:"identity"`
	SignaturePublicKey []byte `json:"signature_public_key"`
	Accepted           bool   `json:"accepted"`
}

// Validations returns every credential check since the start or the last
// ResetValidations, oldest first.
func (p *Peer) Validations(ctx context.Context) ([]Validation, error) {
	var out struct {
		Validations []Validation `json:"validations"`
	}
	err := p.call(ctx, callTimeout, "validations", nil, &out)
	return out.Validations, err
}

// ResetValidations forgets the recorded credential checks.
func (p *Peer) ResetValidations(ctx context.Context) error {
	return p.call(ctx, callTimeout, "reset_validations", nil, nil)
}

// Refuse makes the peer reject BasicCredentials with these identities from
// now on, replacing any earlier list; no identities accepts everyone again.
func (p *Peer) Refuse(ctx context.Context, identities ...[]byte) error {
	if identities == nil {
		identities = [][]byte{}
	}
	return p.call(ctx, callTimeout, "refuse", map[string]any{"identities": identities}, nil)
}
