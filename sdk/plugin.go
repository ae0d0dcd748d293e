package sdk

import (
	"context"
	"crypto/x509"
	"log/slog"
	"time"
)

// Plugin is what every identity plugin implements. The capabilities below are
// optional and detected by type assertion.
type Plugin interface {
	// Info names the plugin. It needs no configuration.
	Info() Info
	// ValidateConfig checks a configuration (YAML) without applying it.
	ValidateConfig(ctx context.Context, config []byte) (notes []string, err error)
	// Configure validates a configuration and swaps it in atomically; on error
	// the previous configuration stays in force.
	Configure(ctx context.Context, config []byte) (notes []string, err error)
}

// IdentityProvider mints or fetches tokens for the local workload.
type IdentityProvider interface {
	FetchToken(ctx context.Context, req TokenRequest) (Token, error)
}

// TokenWatcher pushes a token at once and a fresh one at every rotation, until
// ctx ends or send fails.
type TokenWatcher interface {
	WatchToken(ctx context.Context, req TokenRequest, send func(Token) error) error
}

// Verifier checks a token and returns the identity it proves.
type Verifier interface {
	Verify(ctx context.Context, req VerifyRequest) (Identity, error)
}

// KeyPublisher publishes the verification material the plugin trusts: a full
// snapshot at once and another on every change, until ctx ends or send fails.
type KeyPublisher interface {
	WatchKeys(ctx context.Context, send func(KeySnapshot) error) error
}

// X509Provider hands out the workload's X.509-SVID and checks peers' chains.
type X509Provider interface {
	FetchX509SVID(ctx context.Context) (X509SVID, error)
	VerifyX509(ctx context.Context, chain []*x509.Certificate, at time.Time) (Identity, error)
}

// StatusReporter says whether the plugin can serve now.
type StatusReporter interface {
	Status(ctx context.Context) Status
}

// LoggerSetter receives the logger to use. External plugins get one that
// writes to stderr in the format the host re-emits; built-ins get the host's.
type LoggerSetter interface {
	SetLogger(*slog.Logger)
}

// Capability names an optional part of the contract.
type Capability string

const (
	CapFetchToken Capability = "fetch_token"
	CapWatchToken Capability = "watch_token"
	CapVerify     Capability = "verify"
	CapWatchKeys  Capability = "watch_keys"
	CapX509       Capability = "x509"
	CapStatus     Capability = "status"
)

// Info describes a plugin.
type Info struct {
	Name    string
	Version string
	// Capabilities is filled in from the interfaces the plugin implements;
	// plugins leave it empty.
	Capabilities []Capability
}

// Has reports whether the plugin offers c.
func (i Info) Has(c Capability) bool {
	for _, have := range i.Capabilities {
		if have == c {
			return true
		}
	}
	return false
}

// CapabilitiesOf lists what p implements.
func CapabilitiesOf(p Plugin) []Capability {
	var caps []Capability
	if _, ok := p.(IdentityProvider); ok {
		caps = append(caps, CapFetchToken)
	}
	if _, ok := p.(TokenWatcher); ok {
		caps = append(caps, CapWatchToken)
	}
	if _, ok := p.(Verifier); ok {
		caps = append(caps, CapVerify)
	}
	if _, ok := p.(KeyPublisher); ok {
		caps = append(caps, CapWatchKeys)
	}
	if _, ok := p.(X509Provider); ok {
		caps = append(caps, CapX509)
	}
	if _, ok := p.(StatusReporter); ok {
		caps = append(caps, CapStatus)
	}
	return caps
}
