package policy

import (
	"reflect"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"
)

// maxCELSource bounds an expression's length in code points, and
// maxCELNesting its nesting: checking deeply nested literals is slow, and a
// policy has no use for them.
const (
	maxCELSource  = 16 << 10
	maxCELNesting = 64
)

// celIdentity is the CEL variable `identity`.
type celIdentity struct {
	Subject        string         `cel:"subject"`
	Issuer         string         `cel:"issuer"`
	Audiences      []string       `cel:"audiences"`
	Provider       string         `cel:"provider"`
	Claims         map[string]any `cel:"claims"`
	CredentialType string         `cel:"credential_type"`
	SPIFFEID       string         `cel:"spiffe_id"`
	TrustDomain    string         `cel:"trust_domain"`
	ExpiresAt      time.Time      `cel:"expires_at"`
	IssuedAt       time.Time      `cel:"issued_at"`
	PublicKey      []byte         `cel:"public_key"`
}

// celGroup is the CEL variable `group`.
type celGroup struct {
	Name  string `cel:"name"`
	Size  int64  `cel:"size"`
	Epoch int64  `cel:"epoch"`
}

// celEnv is built once: the declarations never change and an Env is safe
// for concurrent use.
var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		ext.NativeTypes(reflect.TypeFor[*celIdentity](), reflect.TypeFor[*celGroup](), ext.ParseStructTags(true)),
		cel.Variable("identity", cel.ObjectType("policy.celIdentity")),
		cel.Variable("group", cel.ObjectType("policy.celGroup")),
		cel.Variable("now", cel.TimestampType),
		cel.OptionalTypes(),
		ext.Strings(),
		cel.ParserExpressionSizeLimit(maxCELSource),
		cel.ParserRecursionLimit(maxCELNesting),
		cel.ASTValidators(regexLiterals{}, cel.ValidateDurationLiterals(), cel.ValidateTimestampLiterals()),
	)
})

// celVars is the activation: it hands out the variables without building a
// map per evaluation.
type celVars struct {
	identity celIdentity
	group    celGroup
	now      time.Time
}

func (v *celVars) ResolveName(name string) (any, bool) {
	switch name {
	case "identity":
		return &v.identity, true
	case "group":
		return &v.group, true
	case "now":
		return v.now, true
	}
	return nil, false
}

func (v *celVars) Parent() interpreter.Activation { return nil }
