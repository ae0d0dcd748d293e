package sharedsecret

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/pluginconf"
)

const (
	// MinSecretBytes is SLIM's minimum secret length.
	MinSecretBytes = 32
	// DefaultValidity is how long a token stays valid after it is minted.
	DefaultValidity = time.Hour
	// DefaultClockSkew is how far in the future a token's timestamp may be.
	DefaultClockSkew = 5 * time.Second
	// DefaultReplayEntries bounds the replay cache when it is enabled.
	DefaultReplayEntries = 100_000
)

// Config is the plugin's configuration, in SLIM's shape:
//
//	id: org/ns/alice
//	data: "at-least-32-bytes-of-secret-material"
type Config struct {
	// ID is the base identity; SLIM appends "_" and 8 random alphanumerics.
	ID string `yaml:"id"`
	// Data is the secret inline; File names a file holding it. One of them.
	Data string `yaml:"data"`
	File string `yaml:"file"`
	// RandomSuffix appends "_" and 8 random alphanumerics to ID when the
	// plugin is configured, as SLIM does. Default true.
	RandomSuffix *bool `yaml:"random_suffix"`
	// SuffixFile keeps the random suffix in a file: drawn once, created
	// (mode 0600) on first use, then the same across restarts and reloads,
	// so the identity is stable.
	SuffixFile string `yaml:"suffix_file"`
	// ValidityWindow is how long tokens stay valid. Default 1h.
	ValidityWindow time.Duration `yaml:"validity_window"`
	// ClockSkew is how far in the future a timestamp may be. Default 5s.
	ClockSkew time.Duration `yaml:"clock_skew"`
	// Claims are custom claims added to every minted token.
	Claims map[string]any `yaml:"claims"`
	// ReplayCache refuses a token seen before, when enabled.
	ReplayCache ReplayCacheConfig `yaml:"replay_cache"`
}

// ReplayCacheConfig turns on single-use tokens.
type ReplayCacheConfig struct {
	Enabled    bool `yaml:"enabled"`
	MaxEntries int  `yaml:"max_entries"`
}

// settings is a validated configuration.
type settings struct {
	baseID       string
	secret       []byte
	randomSuffix bool
	suffixFile   string
	suffix       string // read from suffixFile when it exists
	validity     time.Duration
	skew         time.Duration
	claims       map[string]any
	replay       bool
	replayMax    int
}

// parseConfig decodes and validates a configuration without side effects.
func parseConfig(raw []byte) (settings, []string, error) {
	var c Config
	if err := pluginconf.Decode(raw, &c); err != nil {
		return settings{}, nil, sdk.InvalidConfig("%v", err)
	}
	var notes []string
	if err := checkID(c.ID); err != nil {
		return settings{}, nil, sdk.InvalidConfig("id: %v", err)
	}
	secret, err := c.secret()
	if err != nil {
		return settings{}, nil, err
	}
	s := settings{
		baseID:       c.ID,
		secret:       secret,
		randomSuffix: c.RandomSuffix == nil || *c.RandomSuffix,
		suffixFile:   c.SuffixFile,
		validity:     c.ValidityWindow,
		skew:         c.ClockSkew,
		claims:       c.Claims,
		replay:       c.ReplayCache.Enabled,
		replayMax:    c.ReplayCache.MaxEntries,
	}
	if s.suffixFile != "" {
		if !s.randomSuffix {
			return settings{}, nil, sdk.InvalidConfig("suffix_file keeps the random suffix: it needs random_suffix true")
		}
		if s.suffix, err = readSuffix(s.suffixFile); err != nil {
			return settings{}, nil, err
		}
	}
	if s.validity == 0 {
		s.validity = DefaultValidity
	}
	if s.validity < time.Second || s.validity%time.Second != 0 {
		return settings{}, nil, sdk.InvalidConfig("validity_window %s must be a whole number of seconds, at least 1s", c.ValidityWindow)
	}
	if s.skew == 0 {
		s.skew = DefaultClockSkew
	}
	if s.skew < 0 || s.skew > 5*time.Minute || s.skew%time.Second != 0 {
		return settings{}, nil, sdk.InvalidConfig("clock_skew %s must be whole seconds between 1s and 5m", c.ClockSkew)
	}
	for _, reserved := range []string{"sub", "iat", "exp", "aud", "pubkey"} {
		if _, ok := s.claims[reserved]; ok {
			return settings{}, nil, sdk.InvalidConfig("claims: %q is set by the plugin and cannot be configured", reserved)
		}
	}
	if s.replay {
		if s.replayMax == 0 {
			s.replayMax = DefaultReplayEntries
		}
		if s.replayMax < 0 {
			return settings{}, nil, sdk.InvalidConfig("replay_cache.max_entries %d must be positive", c.ReplayCache.MaxEntries)
		}
		notes = append(notes, fmt.Sprintf("replay cache on: each token verifies once; at most %d tokens per %s", s.replayMax, s.validity))
	} else if c.ReplayCache.MaxEntries != 0 {
		return settings{}, nil, sdk.InvalidConfig("replay_cache.max_entries is set but replay_cache.enabled is false")
	}
	return s, notes, nil
}

// secret returns the secret's bytes from data or file.
func (c Config) secret() ([]byte, error) {
	switch {
	case c.Data != "" && c.File != "":
		return nil, sdk.InvalidConfig("set either data or file for the secret, not both")
	case c.Data == "" && c.File == "":
		return nil, sdk.InvalidConfig("no secret: set data (inline) or file")
	}
	secret := []byte(c.Data)
	if c.File != "" {
		raw, err := os.ReadFile(c.File)
		if err != nil {
			return nil, sdk.InvalidConfig("read secret file: %v", err)
		}
		// A file written by an editor or `echo` ends with a newline that is
		// not part of the secret.
		secret = []byte(strings.TrimSuffix(strings.TrimSuffix(string(raw), "\n"), "\r"))
	}
	if len(secret) < MinSecretBytes {
		return nil, sdk.InvalidConfig("secret is %d bytes; it must be at least %d bytes", len(secret), MinSecretBytes)
	}
	return secret, nil
}

// readSuffix reads a kept suffix; a missing file is not an error (Configure
// creates it).
func readSuffix(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", sdk.InvalidConfig("suffix_file: %v", err)
	}
	suffix := strings.TrimSpace(string(raw))
	if len(suffix) != 8 || strings.Trim(suffix, alphanumerics) != "" {
		return "", sdk.InvalidConfig("suffix_file %s holds %q; want 8 letters or digits (delete it to draw a new one)", path, suffix)
	}
	return suffix, nil
}

// keepSuffix creates the suffix file with a new suffix, or reads the one
// another process created first.
func keepSuffix(path string) (string, error) {
	suffix := randomAlphanumeric(8)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readSuffix(path)
	}
	if err != nil {
		return "", sdk.InvalidConfig("suffix_file: %v", err)
	}
	if _, err := f.WriteString(suffix + "\n"); err != nil {
		f.Close()
		return "", sdk.InvalidConfig("suffix_file: %v", err)
	}
	if err := f.Close(); err != nil {
		return "", sdk.InvalidConfig("suffix_file: %v", err)
	}
	return suffix, nil
}
