package spiffehelper_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/slimid/slimid/plugins/spiffehelper"
	"github.com/slimid/slimid/sdk"
)

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name    string
		config  string
		wantErr string
	}{
		{name: "minimal", config: "cert_dir: /svids\njwt_audiences: [slim-demo]"},
		{name: "every key", config: `
cert_dir: /svids
jwt_svid_file_name: svid.jwt
jwt_bundle_file_name: bundle.json
svid_file_name: svid.pem
svid_key_file_name: svid_key.pem
svid_bundle_file_name: bundle.pem
jwt_audiences: [slim-demo, other]
leeway: 0s
debounce: 50ms`},
		{name: "JSON", config: `{"cert_dir": "/svids", "jwt_audiences": ["slim-demo"]}`},
		{name: "empty", config: "",
			wantErr: "cert_dir is required: set it to spiffe-helper's cert_dir as mounted in this container"},
		{name: "unknown key", config: "cert_dir: /svids\njwt_audiences: [a]\njwt_svids: []",
			wantErr: `unknown key "jwt_svids" at the top level (line 3)`},
		{name: "not YAML", config: "cert_dir: [",
			wantErr: "config is not valid YAML: [1:11] sequence end token ']' not found"},
		{name: "relative cert_dir", config: "cert_dir: svids\njwt_audiences: [a]",
			wantErr: `cert_dir "svids" is relative: give an absolute path`},
		{name: "no audiences", config: "cert_dir: /svids",
			wantErr: "jwt_audiences is required: list the audiences Verify expects, such as spiffe-helper's jwt_audience"},
		{name: "empty audience list", config: "cert_dir: /svids\njwt_audiences: []",
			wantErr: "jwt_audiences is required: list the audiences Verify expects, such as spiffe-helper's jwt_audience"},
		{name: "blank audience", config: "cert_dir: /svids\njwt_audiences: [a, ' ']",
			wantErr: "jwt_audiences[1] is empty: every expected audience needs a value"},
		{name: "slim-claims audience", config: "cert_dir: /svids\njwt_audiences: ['slim-claims:e30=']",
			wantErr: "jwt_audiences[0] is a slim-claims: audience, which carries claims, not a party: list the audience spiffe-helper requests"},
		{name: "audiences not a list", config: "cert_dir: /svids\njwt_audiences: slim-demo",
			wantErr: "jwt_audiences: string was used where sequence is expected (line 2)"},
		{name: "file name with a slash", config: "cert_dir: /svids\njwt_audiences: [a]\njwt_svid_file_name: ../x",
			wantErr: `jwt_svid_file_name: "../x" is not a plain file name inside cert_dir`},
		{name: "empty file name", config: "cert_dir: /svids\njwt_audiences: [a]\nsvid_key_file_name: ''",
			wantErr: "svid_key_file_name: empty: give a file name or leave the key out for the default"},
		{name: "dot file name", config: "cert_dir: /svids\njwt_audiences: [a]\nsvid_bundle_file_name: '..'",
			wantErr: `svid_bundle_file_name: ".." is not a plain file name inside cert_dir`},
		{name: "two files one name", config: "cert_dir: /svids\njwt_audiences: [a]\nsvid_file_name: key.jwt",
			wantErr: `jwt_bundle_file_name and svid_file_name are both "key.jwt": each file needs its own name`},
		{name: "negative leeway", config: "cert_dir: /svids\njwt_audiences: [a]\nleeway: -1s",
			wantErr: "leeway -1s is out of range: give a duration from 0s to 5m0s"},
		{name: "leeway too long", config: "cert_dir: /svids\njwt_audiences: [a]\nleeway: 1h",
			wantErr: "leeway 1h0m0s is out of range: give a duration from 0s to 5m0s"},
		{name: "leeway not a duration", config: "cert_dir: /svids\njwt_audiences: [a]\nleeway: 30",
			wantErr: `leeway: cannot use "30" as a duration (like 90s or 1h) (line 3)`},
		{name: "debounce too long", config: "cert_dir: /svids\njwt_audiences: [a]\ndebounce: 10s",
			wantErr: "debounce 10s is out of range: give a duration from 0s to 5s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := spiffehelper.New(spiffehelper.WithRegisterer(nil))
			_, err := p.ValidateConfig(t.Context(), []byte(tt.config))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateConfig: %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("ValidateConfig error = %v\nwant %s", err, tt.wantErr)
			}
			if !errors.Is(err, sdk.ErrInvalidConfig) {
				t.Fatalf("ValidateConfig error %v is not an invalid-configuration error", err)
			}
			if _, err := p.Configure(t.Context(), []byte(tt.config)); err == nil || err.Error() != tt.wantErr {
				t.Fatalf("Configure error = %v\nwant %s", err, tt.wantErr)
			}
		})
	}
}

// TestConfigureNeedsTheDirectory: ValidateConfig reads nothing, so a pod's
// configuration validates anywhere; Configure needs cert_dir to exist.
func TestConfigureNeedsTheDirectory(t *testing.T) {
	base := t.TempDir()
	notDir := filepath.Join(base, "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir, wantErr string
	}{
		{"missing", filepath.Join(base, "missing"),
			fmt.Sprintf("cert_dir %q does not exist: mount the directory spiffe-helper writes to", filepath.Join(base, "missing"))},
		{"a file", notDir, fmt.Sprintf("cert_dir %q is not a directory", notDir)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := spiffehelper.New(spiffehelper.WithRegisterer(nil))
			cfg := fmt.Appendf(nil, "cert_dir: %s\njwt_audiences: [a]\n", tt.dir)
			if _, err := p.ValidateConfig(t.Context(), cfg); err != nil {
				t.Fatalf("ValidateConfig: %v", err)
			}
			_, err := p.Configure(t.Context(), cfg)
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("Configure error = %v\nwant %s", err, tt.wantErr)
			}
			if !errors.Is(err, sdk.ErrInvalidConfig) {
				t.Fatalf("Configure error %v is not an invalid-configuration error", err)
			}
			if st := p.Status(t.Context()); st.Ready || st.Message != "not configured" {
				t.Fatalf("Status after refused Configure = %+v; want not configured", st)
			}
		})
	}
}
