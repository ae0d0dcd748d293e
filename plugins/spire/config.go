package spire

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/pluginconf"
)

const (
	// DefaultAudience is what SLIM requests and expects when no audience is
	// configured.
	DefaultAudience = "slim"
	// DefaultLeeway is the clock leeway for exp, nbf and iat in Verify.
	DefaultLeeway = 30 * time.Second
	// MaxLeeway bounds leeway: JWT-SVIDs live minutes, not hours.
	MaxLeeway = 5 * time.Minute
	// slimClaimsPrefix starts SLIM's audience that carries custom claims;
	// the plugin adds it itself and refuses it in configuration.
	slimClaimsPrefix = "slim-claims:"
	// maxSocketPath is the room for a unix socket path (sun_path).
	maxSocketPath = 107
)

// Config is the plugin's configuration, in SLIM's shape:
//
//	socket_path: unix:///run/spire/agent-sockets/api.sock
//	jwt_audiences: ["slim"]
type Config struct {
	// SocketPath is the agent's Workload API: unix:///path or unix:/path.
	// Default: $SPIFFE_ENDPOINT_SOCKET.
	SocketPath string `yaml:"socket_path"`
	// JWTAudiences are requested in FetchToken and expected (any of) in
	// Verify when a request names none. Default ["slim"]; an empty list is
	// refused, since it would accept any audience.
	JWTAudiences []string `yaml:"jwt_audiences"`
	// TargetSPIFFEID picks one of several identities the agent issues to
	// this workload. Default: the agent's first (default) identity.
	TargetSPIFFEID string `yaml:"target_spiffe_id"`
	// Leeway is the clock leeway for exp, nbf and iat in Verify. Default 30s.
	Leeway *time.Duration `yaml:"leeway"`
}

// settings is a validated configuration.
type settings struct {
	addr      string // unix:///path
	audiences []string
	target    spiffeid.ID // zero: the default identity
	leeway    time.Duration
}

func (s settings) equal(o settings) bool {
	return s.addr == o.addr && slices.Equal(s.audiences, o.audiences) && s.target == o.target && s.leeway == o.leeway
}

// parseConfig decodes and validates a configuration without side effects;
// getenv reads SPIFFE_ENDPOINT_SOCKET.
func parseConfig(raw []byte, getenv func(string) string) (settings, []string, error) {
	var c Config
	if err := pluginconf.Decode(raw, &c); err != nil {
		return settings{}, nil, sdk.InvalidConfig("%v", err)
	}
	var notes []string
	s := settings{leeway: DefaultLeeway}

	socket := c.SocketPath
	if socket == "" {
		socket = getenv(workloadapi.SocketEnv)
		if socket == "" {
			return settings{}, nil, sdk.InvalidConfig("socket_path is not set and %s is empty: set socket_path to the agent's Workload API, e.g. unix:///run/spire/agent-sockets/api.sock", workloadapi.SocketEnv)
		}
		notes = append(notes, fmt.Sprintf("socket_path taken from %s: %s", workloadapi.SocketEnv, socket))
	}
	addr, err := normalizeSocket(socket)
	if err != nil {
		return settings{}, nil, sdk.InvalidConfig("socket_path: %v", err)
	}
	s.addr = addr

	switch {
	case c.JWTAudiences == nil:
		s.audiences = []string{DefaultAudience}
		notes = append(notes, fmt.Sprintf("jwt_audiences defaults to [%s]", DefaultAudience))
	case len(c.JWTAudiences) == 0:
		return settings{}, nil, sdk.InvalidConfig("jwt_audiences is empty: list at least one audience (SLIM uses %q), since an empty list would accept tokens for any audience", DefaultAudience)
	default:
		if err := checkAudiences(c.JWTAudiences); err != nil {
			return settings{}, nil, sdk.InvalidConfig("jwt_audiences: %v", err)
		}
		s.audiences = slices.Clone(c.JWTAudiences)
	}

	if c.TargetSPIFFEID != "" {
		id, err := spiffeid.FromString(c.TargetSPIFFEID)
		if err != nil {
			return settings{}, nil, sdk.InvalidConfig("target_spiffe_id %q is not a SPIFFE ID (%v): write spiffe://<trust domain>/<path>", c.TargetSPIFFEID, err)
		}
		s.target = id
	}

	if c.Leeway != nil {
		switch l := *c.Leeway; {
		case l < 0:
			return settings{}, nil, sdk.InvalidConfig("leeway %s is negative: use 0s or more", l)
		case l > MaxLeeway:
			return settings{}, nil, sdk.InvalidConfig("leeway %s is more than the %s allowed: JWT-SVIDs live minutes", l, MaxLeeway)
		default:
			s.leeway = l
		}
	}
	return s, notes, nil
}

// checkAudiences refuses empty and reserved audiences.
func checkAudiences(auds []string) error {
	for _, a := range auds {
		switch {
		case strings.TrimSpace(a) == "":
			return fmt.Errorf("an audience is empty: remove it or name the audience")
		case strings.HasPrefix(a, slimClaimsPrefix):
			return fmt.Errorf("audience %q uses the reserved prefix %q, which carries the bound key: remove it", a, slimClaimsPrefix)
		}
	}
	return nil
}

// normalizeSocket turns unix:///path and unix:/path into unix:///path, the
// form go-spiffe dials.
func normalizeSocket(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%q is not a URI (%v): write unix:///path/to/agent.sock", s, err)
	}
	switch {
	case u.Scheme == "" && strings.HasPrefix(s, "/"):
		return "", fmt.Errorf("%q has no scheme: write unix://%s", s, s)
	case u.Scheme == "":
		return "", fmt.Errorf("%q is not a unix socket URI: write unix:///path/to/agent.sock", s)
	case u.Scheme != "unix":
		return "", fmt.Errorf("%q: the SPIRE agent serves the Workload API on a unix socket: write unix:///path/to/agent.sock", s)
	case u.Opaque != "":
		return "", fmt.Errorf("%q is a relative path: write an absolute one, unix:///path/to/agent.sock", s)
	case u.Host != "":
		return "", fmt.Errorf("%q reads %q as a host name: write three slashes, unix:///%s%s", s, u.Host, u.Host, u.Path)
	case u.Path == "" || u.Path == "/":
		return "", fmt.Errorf("%q names no socket: write unix:///path/to/agent.sock", s)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("%q carries a user, query or fragment: write unix:///path/to/agent.sock", s)
	case len(u.Path) > maxSocketPath:
		return "", fmt.Errorf("%q: the path is %d bytes; unix sockets allow %d", s, len(u.Path), maxSocketPath)
	}
	addr := (&url.URL{Scheme: "unix", Path: u.Path}).String() // unix:///path, escaped
	if err := workloadapi.ValidateAddress(addr); err != nil {
		return "", fmt.Errorf("%q: %v", s, err)
	}
	return addr, nil
}
