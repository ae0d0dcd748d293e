package broker_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/slimid/slimid/broker"
	"github.com/slimid/slimid/sdk"
)

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown top-level key", "plugin: []\n", `unknown key "plugin" at the top level (line 1)`},
		{"unknown entry key", "plugins:\n  - name: a\n    type: shared_secret\n    sha: x\n", `unknown key "sha" at plugins[0] (line 4)`},
		{"no plugins", "socket: /tmp/x.sock\n", "plugins: none configured; add at least one plugin entry"},
		{"type and path", "plugins:\n  - {name: a, type: shared_secret, path: /bin/x}\n", "plugins[0] (a): set type (built-in) or path (external), not both"},
		{"neither type nor path", "plugins:\n  - {name: a}\n", "plugins[0] (a): set type (a built-in plugin) or path and sha256 (an external binary)"},
		{"relative path", "plugins:\n  - {name: a, path: bin/x, sha256: ab}\n", `plugins[0] (a): path "bin/x" must be absolute`},
		{"no checksum", "plugins:\n  - {name: a, path: /bin/x}\n", "plugins[0] (a): external plugin needs sha256 (run: slimid plugins checksum /bin/x)"},
		{"duplicate name", "plugins:\n  - {name: a, type: x}\n  - {name: a, type: y}\n", `plugins[1].name "a" is used twice`},
		{"bad name", "plugins:\n  - {name: A b, type: x}\n", `plugins[0].name "A b": use 1-63 lowercase letters, digits, '_', '.' or '-'`},
		{"sha on built-in", "plugins:\n  - {name: a, type: x, sha256: ab}\n", "plugins[0] (a): sha256, args and env apply to external plugins (path) only"},
		{"socket mode", "socket_mode: rw\nplugins:\n  - {name: a, type: x}\n", `socket_mode "rw" is not octal permission bits like "0600"`},
		{"missing config file", "plugins:\n  - {name: a, type: x, config_file: nope.yaml}\n", "plugins[0] (a): config_file: open "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := broker.ParseConfig([]byte(tc.yaml), t.TempDir())
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("ParseConfig = %v; want %q", err, tc.want)
			}
		})
	}
}

// A plugin's own configuration error names the key and its line in the
// broker's file, and the broker does not start.
func TestPluginConfigErrorNamesKeyAndLine(t *testing.T) {
	yaml := "socket: /tmp/x.sock\nplugins:\n  - name: team\n    type: shared_secret\n    config:\n      # the team's secret\n      id: org/ns/alice\n\n      data: " + secretA + "\n      replay_cache: {enabled: true, size: 9}\n"
	_, err := broker.New(context.Background(), parse(t, yaml), broker.Options{Builtins: builtins})
	want := `plugins[0].config: plugin(team): unknown key "size" at replay_cache (line 10)`
	if !errors.Is(err, sdk.ErrInvalidConfig) || err.Error() != want {
		t.Fatalf("New = %v; want %q", err, want)
	}
	_, err = broker.New(context.Background(), parse(t, "plugins:\n  - {name: team, type: shared_secret, config: {id: a, data: short}}\n"), broker.Options{Builtins: builtins})
	want = "plugins[0].config: plugin(team): secret is 5 bytes; it must be at least 32 bytes"
	if err == nil || err.Error() != want {
		t.Fatalf("New = %v; want %q", err, want)
	}
	_, err = broker.New(context.Background(), parse(t, "plugins:\n  - {name: team, type: nosuch}\n"), broker.Options{Builtins: builtins})
	want = `plugins[0]: plugin(team): unknown type "nosuch" (built-in types: shared_secret)`
	if err == nil || err.Error() != want {
		t.Fatalf("New = %v; want %q", err, want)
	}
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "team.yaml", "id: org/ns/alice\ndata: "+secretA+"\n")
	path := writeFile(t, dir, "slimid.yaml", "plugins:\n  - name: team\n    type: shared_secret\n    config_file: team.yaml\n")
	cfg, err := broker.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.New(context.Background(), cfg, broker.Options{Builtins: builtins})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.Verify(context.Background(), "team", sdk.VerifyRequest{Token: mint(t, minter(t, secretA))}); err != nil {
		t.Fatal(err)
	}
}
