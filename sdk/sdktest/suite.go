package sdktest

import (
	"time"

	"testing"

	"github.com/slimid/slimid/sdk"
)

// Suite describes a plugin under test.
type Suite struct {
	// NewPlugin returns a fresh, unconfigured plugin.
	NewPlugin func() sdk.Plugin
	// Binary is the import path of the plugin's main package. Empty: the
	// external run is skipped.
	Binary string
	// Env adds KEY=VALUE pairs to the external binary's environment.
	Env []string
	// Config is a valid configuration (YAML).
	Config []byte
	// InvalidConfigs must each be refused with an error containing Want.
	InvalidConfigs []InvalidConfig
	// Audiences to request tokens for and to verify with.
	Audiences []string
	// ChecksAudience: the plugin refuses a token when none of the expected
	// audiences is in it.
	ChecksAudience bool
	// PublicKey is the key the kit asks FetchToken and WatchToken to bind.
	// Nil: a fresh Ed25519 key. Plugins that hand out tokens minted
	// elsewhere (files written by spiffe-helper) set the key those carry.
	PublicKey []byte
	// Token returns a valid token to verify, for plugins that verify but do
	// not mint. Unused when the plugin mints.
	Token func(t testing.TB) string
	// Rejected tokens must each be refused with the given verdict.
	Rejected []RejectedToken
	// ReadyTimeout bounds the wait for the plugin to report ready after
	// Configure. Zero: 10 s.
	ReadyTimeout time.Duration
}

// InvalidConfig is a configuration the plugin must refuse.
type InvalidConfig struct {
	Name   string
	Config []byte
	// Want is a substring of the expected error.
	Want string
}

// RejectedToken is a token the plugin must refuse with Reason (one of the
// sdk verdicts, such as sdk.ErrExpired).
type RejectedToken struct {
	Name   string
	Token  func(t testing.TB) string
	Reason error
}
