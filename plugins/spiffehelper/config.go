package spiffehelper

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/pluginconf"
)

// spiffe-helper's file names, as in the sidecar configuration SLIM documents.
const (
	DefaultJWTSVIDFileName    = "jwt_svid.token"
	DefaultJWTBundleFileName  = "key.jwt"
	DefaultSVIDFileName       = "tls.crt"
	DefaultSVIDKeyFileName    = "tls.key"
	DefaultSVIDBundleFileName = "svid_bundle.pem"
)

const (
	// DefaultLeeway is the clock leeway for exp, nbf and iat in Verify.
	DefaultLeeway = 30 * time.Second
	// MaxLeeway bounds leeway: JWT-SVIDs live minutes, not hours.
	MaxLeeway = 5 * time.Minute
	// DefaultDebounce is how long the plugin lets a burst of file events
	// settle before it reads the files.
	DefaultDebounce = 10 * time.Millisecond
	// MaxDebounce bounds debounce so rotations still arrive promptly.
	MaxDebounce = 5 * time.Second
)

// Config is the plugin's configuration. The key names follow spiffe-helper's
// own configuration, so both can be read side by side:
//
//	cert_dir: /svids
//	jwt_audiences: ["slim-demo"]
type Config struct {
	// CertDir is spiffe-helper's cert_dir as mounted here (absolute).
	CertDir string `yaml:"cert_dir"`
	// JWTSVIDFileName is the jwt_svid_file_name of spiffe-helper's jwt_svids
	// entry. Default jwt_svid.token.
	JWTSVIDFileName string `yaml:"jwt_svid_file_name"`
	// JWTBundleFileName is spiffe-helper's jwt_bundle_file_name. Default key.jwt.
	JWTBundleFileName string `yaml:"jwt_bundle_file_name"`
	// SVIDFileName is spiffe-helper's svid_file_name. Default tls.crt.
	SVIDFileName string `yaml:"svid_file_name"`
	// SVIDKeyFileName is spiffe-helper's svid_key_file_name. Default tls.key.
	SVIDKeyFileName string `yaml:"svid_key_file_name"`
	// SVIDBundleFileName is spiffe-helper's svid_bundle_file_name. Default
	// svid_bundle.pem.
	SVIDBundleFileName string `yaml:"svid_bundle_file_name"`
	// JWTAudiences are the audiences Verify expects (any of) when a request
	// names none. Required: an empty list would accept any audience.
	JWTAudiences []string `yaml:"jwt_audiences"`
	// Leeway is the clock leeway for exp, nbf and iat in Verify. Default 30s.
	Leeway time.Duration `yaml:"leeway"`
	// Debounce is how long file events settle before the files are read.
	// Default 10ms.
	Debounce time.Duration `yaml:"debounce"`
}

// defaultConfig holds every default; decoding overwrites the keys present.
func defaultConfig() Config {
	return Config{
		JWTSVIDFileName:    DefaultJWTSVIDFileName,
		JWTBundleFileName:  DefaultJWTBundleFileName,
		SVIDFileName:       DefaultSVIDFileName,
		SVIDKeyFileName:    DefaultSVIDKeyFileName,
		SVIDBundleFileName: DefaultSVIDBundleFileName,
		Leeway:             DefaultLeeway,
		Debounce:           DefaultDebounce,
	}
}

// settings is a validated configuration with its paths resolved.
type settings struct {
	dir        string
	tokenPath  string
	bundlePath string
	certPath   string
	keyPath    string
	caPath     string
	audiences  []string
	leeway     time.Duration
	debounce   time.Duration
}

// parseConfig decodes and checks a configuration. It touches no file, so a
// configuration written for a pod validates anywhere.
func parseConfig(raw []byte) (*settings, error) {
	c := defaultConfig()
	if err := pluginconf.Decode(raw, &c); err != nil {
		return nil, sdk.InvalidConfig("%v", err)
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	dir := filepath.Clean(c.CertDir)
	return &settings{
		dir:        dir,
		tokenPath:  filepath.Join(dir, c.JWTSVIDFileName),
		bundlePath: filepath.Join(dir, c.JWTBundleFileName),
		certPath:   filepath.Join(dir, c.SVIDFileName),
		keyPath:    filepath.Join(dir, c.SVIDKeyFileName),
		caPath:     filepath.Join(dir, c.SVIDBundleFileName),
		audiences:  slices.Clone(c.JWTAudiences),
		leeway:     c.Leeway,
		debounce:   c.Debounce,
	}, nil
}

func (c *Config) check() error {
	switch {
	case c.CertDir == "":
		return sdk.InvalidConfig("cert_dir is required: set it to spiffe-helper's cert_dir as mounted in this container")
	case !filepath.IsAbs(c.CertDir):
		return sdk.InvalidConfig("cert_dir %q is relative: give an absolute path", c.CertDir)
	}
	names := []struct{ key, value string }{
		{"jwt_svid_file_name", c.JWTSVIDFileName},
		{"jwt_bundle_file_name", c.JWTBundleFileName},
		{"svid_file_name", c.SVIDFileName},
		{"svid_key_file_name", c.SVIDKeyFileName},
		{"svid_bundle_file_name", c.SVIDBundleFileName},
	}
	seen := map[string]string{}
	for _, n := range names {
		if err := checkFileName(n.value); err != nil {
			return sdk.InvalidConfig("%s: %v", n.key, err)
		}
		if other, dup := seen[n.value]; dup {
			return sdk.InvalidConfig("%s and %s are both %q: each file needs its own name", other, n.key, n.value)
		}
		seen[n.value] = n.key
	}
	if len(c.JWTAudiences) == 0 {
		return sdk.InvalidConfig("jwt_audiences is required: list the audiences Verify expects, such as spiffe-helper's jwt_audience")
	}
	for i, a := range c.JWTAudiences {
		switch {
		case strings.TrimSpace(a) == "":
			return sdk.InvalidConfig("jwt_audiences[%d] is empty: every expected audience needs a value", i)
		case strings.HasPrefix(a, slimClaimsPrefix):
			return sdk.InvalidConfig("jwt_audiences[%d] is a %s audience, which carries claims, not a party: list the audience spiffe-helper requests", i, slimClaimsPrefix)
		}
	}
	if c.Leeway < 0 || c.Leeway > MaxLeeway {
		return sdk.InvalidConfig("leeway %s is out of range: give a duration from 0s to %s", c.Leeway, MaxLeeway)
	}
	if c.Debounce < 0 || c.Debounce > MaxDebounce {
		return sdk.InvalidConfig("debounce %s is out of range: give a duration from 0s to %s", c.Debounce, MaxDebounce)
	}
	return nil
}

// checkFileName accepts a plain name inside cert_dir, as spiffe-helper does.
func checkFileName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty: give a file name or leave the key out for the default")
	case name == "." || name == ".." || strings.ContainsAny(name, `/\`) || strings.ContainsRune(name, 0):
		return fmt.Errorf("%q is not a plain file name inside cert_dir", name)
	}
	return nil
}
