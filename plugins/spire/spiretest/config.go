package spiretest

import (
	"fmt"
	"os"
	"path/filepath"
	"text/template"
	"time"
)

// Options shape one SPIRE deployment. The zero value is a working one.
type Options struct {
	// TrustDomain defaults to "example.org".
	TrustDomain string
	// WorkloadID is the SPIFFE ID registered for the test's uid. Default:
	// spiffe://<trust domain>/workload.
	WorkloadID string
	// X509SVIDTTL of the workload entry. Default 1h. Keep it at 30 s or
	// more: SPIRE backdates SVIDs by 10 s, so shorter ones are re-issued on
	// every sync.
	X509SVIDTTL time.Duration
	// JWTSVIDTTL of the workload entry. Default 5m.
	JWTSVIDTTL time.Duration
	// CATTL is the server's ca_ttl. Default 24h. SPIRE prepares the next
	// X.509 CA and JWT signing key at half of it, so 2m shows a JWT key
	// rotation in the bundle after about a minute.
	CATTL time.Duration
	// JWTKeyType is the server's jwt_key_type ("ec-p256", "ec-p384",
	// "rsa-2048", "rsa-4096"). Default "ec-p256" (ES256).
	JWTKeyType string
	// JWTIssuer is the server's jwt_issuer. Default: none (no `iss`).
	JWTIssuer string
	// FederatedBundles maps a trust domain ("other.test") to its SPIFFE
	// bundle (another Env's BundleJWKS). The server stores each before the
	// workload entry is created, and the entry federates with all of them,
	// so the workload receives their X.509 and JWT bundles.
	FederatedBundles map[string][]byte
	// StartTimeout bounds each wait: server health, first SVID. Default 60s.
	StartTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.TrustDomain == "" {
		o.TrustDomain = "example.org"
	}
	if o.WorkloadID == "" {
		o.WorkloadID = "spiffe://" + o.TrustDomain + "/workload"
	}
	if o.X509SVIDTTL == 0 {
		o.X509SVIDTTL = time.Hour
	}
	if o.JWTSVIDTTL == 0 {
		o.JWTSVIDTTL = 5 * time.Minute
	}
	if o.CATTL == 0 {
		o.CATTL = 24 * time.Hour
	}
	if o.JWTKeyType == "" {
		o.JWTKeyType = "ec-p256"
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = time.Minute
	}
	return o
}

// layout names every file of one deployment. Paths stay short: unix
// socket paths must fit in 108 bytes.
type layout struct {
	Dir, ServerData, AgentData       string
	ServerSocket, AgentSocket        string
	ServerConf, AgentConf, BundlePEM string
	ServerLog, AgentLog              string
	Port                             int
	Opts                             Options
}

func newLayout(dir string, port int, opts Options) layout {
	return layout{
		Dir:          dir,
		ServerData:   filepath.Join(dir, "server"),
		AgentData:    filepath.Join(dir, "agent"),
		ServerSocket: filepath.Join(dir, "s.sock"),
		AgentSocket:  filepath.Join(dir, "a.sock"),
		ServerConf:   filepath.Join(dir, "server.conf"),
		AgentConf:    filepath.Join(dir, "agent.conf"),
		BundlePEM:    filepath.Join(dir, "bundle.pem"),
		ServerLog:    filepath.Join(dir, "server.log"),
		AgentLog:     filepath.Join(dir, "agent.log"),
		Port:         port,
		Opts:         opts,
	}
}

// The server keeps its CA keys in memory (a restart would mint a new
// CA, which the harness never needs). The agent keeps its keys on disk so
// that StartAgent after StopAgent or KillAgent resumes with the same
// identity instead of re-attesting with a spent join token.
var serverConf = template.Must(template.New("server").Funcs(template.FuncMap{"hcl": hclDuration}).Parse(`server {
  bind_address = "127.0.0.1"
  bind_port = "{{.Port}}"
  socket_path = "{{.ServerSocket}}"
  trust_domain = "{{.Opts.TrustDomain}}"
  data_dir = "{{.ServerData}}"
  log_level = "INFO"
  ca_key_type = "ec-p256"
  jwt_key_type = "{{.Opts.JWTKeyType}}"
{{- if .Opts.JWTIssuer}}
  jwt_issuer = "{{.Opts.JWTIssuer}}"
{{- end}}
  ca_ttl = "{{hcl .Opts.CATTL}}"
  default_x509_svid_ttl = "{{hcl .Opts.X509SVIDTTL}}"
  default_jwt_svid_ttl = "{{hcl .Opts.JWTSVIDTTL}}"
  experimental {
    cache_reload_interval = "1s"
  }
}

plugins {
  DataStore "sql" {
    plugin_data {
      database_type = "sqlite3"
      connection_string = "{{.ServerData}}/datastore.sqlite3"
    }
  }
  NodeAttestor "join_token" {
    plugin_data {}
  }
  KeyManager "memory" {
    plugin_data {}
  }
}
`))

var agentConf = template.Must(template.New("agent").Parse(`agent {
  data_dir = "{{.AgentData}}"
  log_level = "INFO"
  server_address = "127.0.0.1"
  server_port = "{{.Port}}"
  socket_path = "{{.AgentSocket}}"
  trust_bundle_path = "{{.BundlePEM}}"
  trust_domain = "{{.Opts.TrustDomain}}"
  experimental {
    sync_interval = "1s"
  }
}

plugins {
  NodeAttestor "join_token" {
    plugin_data {}
  }
  KeyManager "disk" {
    plugin_data {
      directory = "{{.AgentData}}"
    }
  }
  WorkloadAttestor "unix" {
    plugin_data {}
  }
}
`))

// hclDuration writes d in whole seconds, which SPIRE's duration parser
// takes for every TTL.
func hclDuration(d time.Duration) string {
	return fmt.Sprintf("%ds", int64(d/time.Second))
}

// write creates the data directories and both config files.
func (l layout) write() error {
	for _, dir := range []string{l.ServerData, l.AgentData} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	for path, tmpl := range map[string]*template.Template{l.ServerConf: serverConf, l.AgentConf: agentConf} {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		err = tmpl.Execute(f, l)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s: %v", path, err)
		}
	}
	return nil
}
