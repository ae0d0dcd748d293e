package policy

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/slimid/slimid/sdk/pluginconf"
)

// Config is a policy file as written by an operator. Every condition that is
// set must hold (AND); a list holds when any one of its entries does (OR).
// The zero Config admits every verified identity.
type Config struct {
	// Providers names the plugin entries allowed to vouch for a member.
	// Empty: any.
	Providers []string `yaml:"providers"`
	// CredentialTypes names the MLS credential types accepted: "basic"
	// (a token in a BasicCredential) or "x509" (an X.509-SVID chain).
	// Empty: any.
	CredentialTypes []string `yaml:"credential_types"`
	// Allow lists what an identity must be. Empty: any verified identity.
	Allow Rules `yaml:"allow"`
	// Deny lists identities to refuse. Deny wins over Allow.
	Deny Rules `yaml:"deny"`
	// MaxMembers caps the group size, the moderator included. 0: no cap.
	MaxMembers int `yaml:"max_members"`
	// MinRemainingValidity refuses credentials that expire sooner than this
	// after the admission time. 0: only expired credentials are refused.
	MinRemainingValidity time.Duration `yaml:"min_remaining_validity"`
}

// Rules are the identity conditions of an allow or deny section. In allow,
// each field that is set must hold; in deny, any one entry that matches
// refuses.
type Rules struct {
	// SPIFFEIDs are exact SPIFFE IDs, or prefixes written with a trailing
	// "/*" (spiffe://example.org/ns/* covers every ID under /ns/).
	SPIFFEIDs []string `yaml:"spiffe_ids"`
	// TrustDomains are SPIFFE trust domain names, such as example.org.
	TrustDomains []string `yaml:"trust_domains"`
	// Subjects are RE2 expressions the whole subject must match.
	Subjects []string `yaml:"subjects"`
	// Issuers are exact token issuers (the `iss` claim).
	Issuers []string `yaml:"issuers"`
	// Claims maps a top-level claim to its accepted values, compared as
	// text; a claim that is a list matches when any element does.
	Claims map[string][]string `yaml:"claims"`
	// CEL is an expression over identity, group and now that must yield
	// true (allow) or that refuses when true (deny).
	CEL string `yaml:"cel"`
}

// Load reads and compiles the policy file at path.
func Load(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, pluginconf.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if len(data) > pluginconf.MaxBytes {
		return nil, fmt.Errorf("policy %s: the file is larger than %d bytes, the most a policy may hold", path, pluginconf.MaxBytes)
	}
	p, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	return p, nil
}

// Parse compiles a policy document (YAML or JSON). Unknown keys, bad
// patterns and CEL that does not type-check are errors naming the key.
func Parse(data []byte) (*Policy, error) {
	p, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return p, nil
}

func parse(data []byte) (*Policy, error) {
	var cfg Config
	if err := decode(data, &cfg); err != nil {
		return nil, err
	}
	return compile(cfg)
}

// decode turns a panic of the YAML decoder (it has one on a tagged value
// where a list belongs, as in `providers: !x`) into an error: a policy file
// is operator input.
func decode(data []byte, cfg *Config) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the document cannot be decoded: the YAML decoder failed (%v); check the YAML syntax and remove tags such as !name", r)
		}
	}()
	return pluginconf.Decode(data, cfg)
}

// New compiles a Config, for a policy held inside another configuration.
func New(cfg Config) (*Policy, error) {
	p, err := compile(cfg)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return p, nil
}
