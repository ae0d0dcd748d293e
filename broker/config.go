package broker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/slimid/slimid/sdk/pluginconf"
)

// Config is the broker's configuration file.
type Config struct {
	// Socket is the broker API's unix socket.
	Socket string `yaml:"socket"`
	// SocketMode is the socket's permission bits, octal. Default "0600".
	SocketMode string `yaml:"socket_mode"`
	// HTTP is the address of /healthz, /readyz and /metrics. Empty: off.
	HTTP string `yaml:"http"`
	// Cache bounds the verified-token cache.
	Cache CacheConfig `yaml:"cache"`
	// Restart tunes the supervisor's backoff for crashed external plugins.
	Restart RestartConfig `yaml:"restart"`
	// Plugins are loaded in order; Verify without a plugin name tries them
	// in this order.
	Plugins []PluginConfig `yaml:"plugins"`

	// dir resolves relative paths (the config file's directory).
	dir string
}

// CacheConfig bounds the verified-token cache.
type CacheConfig struct {
	// MaxEntries is the LRU's size; 0 takes the default, -1 turns it off.
	MaxEntries int `yaml:"max_entries"`
}

// RestartConfig is the supervisor's exponential backoff with jitter.
type RestartConfig struct {
	InitialBackoff time.Duration `yaml:"initial_backoff"`
	MaxBackoff     time.Duration `yaml:"max_backoff"`
}

// PluginConfig is one plugin entry.
type PluginConfig struct {
	// Name is what --plugin and the API refer to.
	Name string `yaml:"name"`
	// Type names a built-in plugin. Either Type or Path.
	Type string `yaml:"type"`
	// Path is an external plugin binary's absolute path, with its SHA256.
	Path   string   `yaml:"path"`
	SHA256 digest   `yaml:"sha256"`
	Args   []string `yaml:"args"`
	Env    []string `yaml:"env"`
	// Config is the plugin's own configuration, opaque to the broker.
	Config rawConfig `yaml:"config"`
	// ConfigFile holds the plugin's configuration instead of Config.
	ConfigFile string `yaml:"config_file"`
	// Cache: reuse this plugin's verdicts until the token expires or its
	// keys change. Default true.
	Cache *bool `yaml:"cache"`
}

// digest is a hex digest kept as written: YAML would read an all-digit hex
// string as a number.
type digest string

// UnmarshalYAML keeps the scalar's text.
func (d *digest) UnmarshalYAML(b []byte) error {
	*d = digest(strings.Trim(strings.TrimSpace(string(b)), `"'`))
	return nil
}

// rawConfig keeps a plugin's configuration as YAML text for the plugin.
type rawConfig []byte

// UnmarshalYAML keeps the node's text; the block's real text is swapped in
// later by attachPluginConfigs so that line numbers match the file.
func (r *rawConfig) UnmarshalYAML(b []byte) error {
	*r = append([]byte(nil), b...)
	return nil
}

const (
	defaultCacheEntries   = 10_000
	defaultInitialBackoff = 200 * time.Millisecond
	defaultMaxBackoff     = 30 * time.Second
)

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// LoadConfig reads and validates a configuration file.
func LoadConfig(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %v", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	cfg, err := ParseConfig(raw, filepath.Dir(abs))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig parses a configuration; dir resolves relative paths.
func ParseConfig(raw []byte, dir string) (*Config, error) {
	cfg := &Config{dir: dir}
	if err := pluginconf.Decode(raw, cfg); err != nil {
		return nil, err
	}
	attachPluginConfigs(raw, cfg)
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func (c *Config) validate() error {
	if c.SocketMode != "" {
		if _, err := c.SocketModeBits(); err != nil {
			return err
		}
	}
	if c.Cache.MaxEntries < -1 {
		return fmt.Errorf("cache.max_entries %d: use a size, 0 for the default or -1 to turn the cache off", c.Cache.MaxEntries)
	}
	if c.Restart.InitialBackoff < 0 || c.Restart.MaxBackoff < 0 || (c.Restart.MaxBackoff > 0 && c.Restart.MaxBackoff < c.Restart.InitialBackoff) {
		return errors.New("restart: backoffs must be positive and max_backoff at least initial_backoff")
	}
	if len(c.Plugins) == 0 {
		return errors.New("plugins: none configured; add at least one plugin entry")
	}
	seen := map[string]bool{}
	for i := range c.Plugins {
		p := &c.Plugins[i]
		where := fmt.Sprintf("plugins[%d]", i)
		if !nameRE.MatchString(p.Name) {
			return fmt.Errorf("%s.name %q: use 1-63 lowercase letters, digits, '_', '.' or '-'", where, p.Name)
		}
		if seen[p.Name] {
			return fmt.Errorf("%s.name %q is used twice", where, p.Name)
		}
		seen[p.Name] = true
		switch {
		case p.Type != "" && p.Path != "":
			return fmt.Errorf("%s (%s): set type (built-in) or path (external), not both", where, p.Name)
		case p.Type == "" && p.Path == "":
			return fmt.Errorf("%s (%s): set type (a built-in plugin) or path and sha256 (an external binary)", where, p.Name)
		case p.Path != "":
			if !filepath.IsAbs(p.Path) {
				return fmt.Errorf("%s (%s): path %q must be absolute", where, p.Name, p.Path)
			}
			if p.SHA256 == "" {
				return fmt.Errorf("%s (%s): external plugin needs sha256 (run: slimid plugins checksum %s)", where, p.Name, p.Path)
			}
		case p.SHA256 != "" || len(p.Args) > 0 || len(p.Env) > 0:
			return fmt.Errorf("%s (%s): sha256, args and env apply to external plugins (path) only", where, p.Name)
		}
		if len(p.Config) > 0 && p.ConfigFile != "" {
			return fmt.Errorf("%s (%s): set config or config_file, not both", where, p.Name)
		}
		if p.ConfigFile != "" {
			path := p.ConfigFile
			if !filepath.IsAbs(path) {
				path = filepath.Join(c.dir, path)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				return fmt.Errorf("%s (%s): config_file: %v", where, p.Name, err)
			}
			p.ConfigFile = path
			p.Config = raw
		}
	}
	return nil
}

// SocketModeBits is the broker API socket's permission bits.
func (c *Config) SocketModeBits() (os.FileMode, error) {
	if c.SocketMode == "" {
		return 0o600, nil
	}
	m, err := strconv.ParseUint(c.SocketMode, 8, 32)
	if err != nil || m > 0o777 {
		return 0, fmt.Errorf("socket_mode %q is not octal permission bits like \"0600\"", c.SocketMode)
	}
	return os.FileMode(m), nil
}

func (c *Config) cacheEntries() int {
	switch c.Cache.MaxEntries {
	case 0:
		return defaultCacheEntries
	case -1:
		return 0
	}
	return c.Cache.MaxEntries
}

func (c *Config) backoff() (initial, max time.Duration) {
	initial, max = c.Restart.InitialBackoff, c.Restart.MaxBackoff
	if initial == 0 {
		initial = defaultInitialBackoff
	}
	if max == 0 {
		max = defaultMaxBackoff
	}
	if max < initial {
		max = initial
	}
	return initial, max
}

// attachPluginConfigs replaces each block-style `config:` with the file's own
// lines, padded with blank lines, so a plugin's errors name the line in this
// file. Flow-style configs keep the decoder's text.
func attachPluginConfigs(raw []byte, cfg *Config) {
	file, err := parser.ParseBytes(raw, 0)
	if err != nil || len(file.Docs) == 0 {
		return
	}
	root, ok := file.Docs[0].Body.(*ast.MappingNode)
	if !ok {
		return
	}
	lines := strings.SplitAfter(string(raw), "\n")
	for _, top := range root.Values {
		seq, ok := top.Value.(*ast.SequenceNode)
		if top.Key.GetToken().Value != "plugins" || !ok {
			continue
		}
		for i, item := range seq.Values {
			entry, ok := item.(*ast.MappingNode)
			if !ok || i >= len(cfg.Plugins) {
				continue
			}
			for _, field := range entry.Values {
				key := field.Key.GetToken()
				val := field.Value.GetToken()
				if key.Value != "config" || val == nil || val.Position.Line == key.Position.Line {
					continue
				}
				cfg.Plugins[i].Config = []byte(blockText(lines, key.Position.Line, key.Position.Column))
			}
		}
	}
}

// blockText returns the lines of the block under the key at (line, col):
// every following line that is blank, a comment, or indented deeper than the
// key. Earlier lines become empty so numbering is kept.
func blockText(lines []string, line, col int) string {
	var b strings.Builder
	for range line {
		b.WriteByte('\n')
	}
	for _, l := range lines[line:] {
		trimmed := strings.TrimLeft(l, " ")
		indent := len(l) - len(trimmed)
		if strings.TrimSpace(trimmed) != "" && !strings.HasPrefix(trimmed, "#") && indent < col {
			break
		}
		b.WriteString(l)
	}
	return b.String()
}
