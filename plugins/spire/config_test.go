package spire_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/slimid/slimid/plugins/spire"
	"github.com/slimid/slimid/sdk"
)

func TestValidateConfig(t *testing.T) {
	long := "unix:///" + strings.Repeat("s", 120)
	for _, tc := range []struct {
		name      string
		config    string
		env       string // SPIFFE_ENDPOINT_SOCKET
		wantErr   string
		wantNotes []string
	}{
		{
			name:      "SLIM's shape",
			config:    `{socket_path: "unix:///path/agent.sock", jwt_audiences: ["slim"]}`,
			wantNotes: nil,
		},
		{
			name:      "one-slash socket form and default audience",
			config:    "socket_path: unix:/run/spire/agent-sockets/api.sock\n",
			wantNotes: []string{"jwt_audiences defaults to [slim]"},
		},
		{
			name:      "socket from the environment",
			config:    "jwt_audiences: [slim, other]\n",
			env:       "unix:///run/spire/api.sock",
			wantNotes: []string{"socket_path taken from SPIFFE_ENDPOINT_SOCKET: unix:///run/spire/api.sock"},
		},
		{
			name:      "empty document",
			config:    "",
			env:       "unix:/run/spire/api.sock",
			wantNotes: []string{"socket_path taken from SPIFFE_ENDPOINT_SOCKET: unix:/run/spire/api.sock", "jwt_audiences defaults to [slim]"},
		},
		{
			name:    "target and leeway",
			config:  "socket_path: unix:///a.sock\ntarget_spiffe_id: spiffe://example.org/agent-a\nleeway: 0s\njwt_audiences: [slim]\n",
			wantErr: "",
		},
		{
			name:    "no socket anywhere",
			config:  "jwt_audiences: [slim]\n",
			wantErr: "socket_path is not set and SPIFFE_ENDPOINT_SOCKET is empty: set socket_path to the agent's Workload API, e.g. unix:///run/spire/agent-sockets/api.sock",
		},
		{
			name:    "unknown key",
			config:  "socket_path: unix:///a.sock\nsocket: x\n",
			wantErr: `unknown key "socket" at the top level (line 2)`,
		},
		{
			name:    "empty audience list",
			config:  "socket_path: unix:///a.sock\njwt_audiences: []\n",
			wantErr: `jwt_audiences is empty: list at least one audience (SLIM uses "slim"), since an empty list would accept tokens for any audience`,
		},
		{
			name:    "blank audience",
			config:  "socket_path: unix:///a.sock\njwt_audiences: [slim, \" \"]\n",
			wantErr: "jwt_audiences: an audience is empty: remove it or name the audience",
		},
		{
			name:    "reserved audience",
			config:  "socket_path: unix:///a.sock\njwt_audiences: [\"slim-claims:e30=\"]\n",
			wantErr: `jwt_audiences: audience "slim-claims:e30=" uses the reserved prefix "slim-claims:", which carries the bound key: remove it`,
		},
		{
			name:    "audiences not a list",
			config:  "socket_path: unix:///a.sock\njwt_audiences: slim\n",
			wantErr: "jwt_audiences: string was used where sequence is expected (line 2)",
		},
		{
			name:    "bare path",
			config:  "socket_path: /run/spire/api.sock\n",
			wantErr: `socket_path: "/run/spire/api.sock" has no scheme: write unix:///run/spire/api.sock`,
		},
		{
			name:    "relative path without scheme",
			config:  "socket_path: api.sock\n",
			wantErr: `socket_path: "api.sock" is not a unix socket URI: write unix:///path/to/agent.sock`,
		},
		{
			name:    "tcp",
			config:  "socket_path: tcp://127.0.0.1:8081\n",
			wantErr: `socket_path: "tcp://127.0.0.1:8081": the SPIRE agent serves the Workload API on a unix socket: write unix:///path/to/agent.sock`,
		},
		{
			name:    "two slashes",
			config:  "socket_path: unix://run/spire/api.sock\n",
			wantErr: `socket_path: "unix://run/spire/api.sock" reads "run" as a host name: write three slashes, unix:///run/spire/api.sock`,
		},
		{
			name:    "relative unix path",
			config:  "socket_path: unix:api.sock\n",
			wantErr: `socket_path: "unix:api.sock" is a relative path: write an absolute one, unix:///path/to/agent.sock`,
		},
		{
			name:    "no path",
			config:  "socket_path: unix:///\n",
			wantErr: `socket_path: "unix:///" names no socket: write unix:///path/to/agent.sock`,
		},
		{
			name:    "query",
			config:  "socket_path: unix:///a.sock?x=1\n",
			wantErr: `socket_path: "unix:///a.sock?x=1" carries a user, query or fragment: write unix:///path/to/agent.sock`,
		},
		{
			name:    "too long for a unix socket",
			config:  "socket_path: " + long + "\n",
			wantErr: fmt.Sprintf("socket_path: %q: the path is 121 bytes; unix sockets allow 107", long),
		},
		{
			name:    "bad environment value",
			config:  "jwt_audiences: [slim]\n",
			env:     "/run/spire/api.sock",
			wantErr: `socket_path: "/run/spire/api.sock" has no scheme: write unix:///run/spire/api.sock`,
		},
		{
			name:    "target not a SPIFFE ID",
			config:  "socket_path: unix:///a.sock\ntarget_spiffe_id: agent-a\n",
			wantErr: `target_spiffe_id "agent-a" is not a SPIFFE ID (scheme is missing or invalid): write spiffe://<trust domain>/<path>`,
		},
		{
			name:    "negative leeway",
			config:  "socket_path: unix:///a.sock\nleeway: -1s\n",
			wantErr: "leeway -1s is negative: use 0s or more",
		},
		{
			name:    "leeway too long",
			config:  "socket_path: unix:///a.sock\nleeway: 1h\n",
			wantErr: "leeway 1h0m0s is more than the 5m0s allowed: JWT-SVIDs live minutes",
		},
		{
			name:    "leeway without unit",
			config:  "socket_path: unix:///a.sock\nleeway: 30\n",
			wantErr: `leeway: cannot use "30" as a duration (like 90s or 1h) (line 2)`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SPIFFE_ENDPOINT_SOCKET", tc.env)
			notes, err := spire.New().ValidateConfig(context.Background(), []byte(tc.config))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateConfig: %v", err)
				}
				if tc.wantNotes != nil && !slices.Equal(notes, tc.wantNotes) {
					t.Fatalf("notes = %q; want %q", notes, tc.wantNotes)
				}
				return
			}
			if !errors.Is(err, sdk.ErrInvalidConfig) {
				t.Fatalf("ValidateConfig = %v; want an invalid-configuration error", err)
			}
			if err.Error() != tc.wantErr {
				t.Fatalf("error:\n got %s\nwant %s", err, tc.wantErr)
			}
		})
	}
}

func TestCallsBeforeConfigure(t *testing.T) {
	p := spire.New()
	ctx := context.Background()
	if _, err := p.FetchToken(ctx, sdk.TokenRequest{}); !errors.Is(err, sdk.ErrNotConfigured) {
		t.Fatalf("FetchToken = %v; want not configured", err)
	}
	if _, err := p.Verify(ctx, sdk.VerifyRequest{Token: "a.b.c"}); !errors.Is(err, sdk.ErrNotConfigured) {
		t.Fatalf("Verify = %v; want not configured", err)
	}
	if _, err := p.FetchX509SVID(ctx); !errors.Is(err, sdk.ErrNotConfigured) {
		t.Fatalf("FetchX509SVID = %v; want not configured", err)
	}
	if st := p.Status(ctx); st.Ready || st.Message != "not configured" {
		t.Fatalf("Status = %+v; want not ready, not configured", st)
	}
}

func TestConfigureWithoutAgentIsNotReady(t *testing.T) {
	sock := "unix:///" + strings.TrimPrefix(t.TempDir(), "/") + "/none.sock"
	if len(sock) > 100 {
		sock = "unix:///tmp/slimid-spire-absent.sock"
	}
	p := spire.New()
	t.Cleanup(func() { _ = p.Close() })
	if _, err := p.Configure(context.Background(), []byte("socket_path: "+sock+"\n")); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	st := p.Status(context.Background())
	if st.Ready || !strings.Contains(st.Message, "the SPIRE agent at unix:///") {
		t.Fatalf("Status = %+v; want not ready, naming the agent", st)
	}
	_, err := p.Verify(context.Background(), sdk.VerifyRequest{Token: "a.b.c"})
	if !errors.Is(err, sdk.ErrUnavailable) || errors.Is(err, sdk.ErrRejected) {
		t.Fatalf("Verify without bundles = %v; want an outage, never a verdict", err)
	}
	if _, err := p.Verify(context.Background(), sdk.VerifyRequest{Token: "garbage"}); !errors.Is(err, sdk.ErrInvalid) {
		t.Fatalf("Verify(garbage) = %v; want invalid", err)
	}
}
