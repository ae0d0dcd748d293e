package broker_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slimid/slimid/broker"
	"github.com/slimid/slimid/plugins/sharedsecret"
	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/sdktest"
)

const (
	secretA = "broker-test-secret-a-0123456789abcdef"
	secretB = "broker-test-secret-b-0123456789abcdef"
)

var builtins = broker.Builtins{sharedsecret.Name: func() sdk.Plugin { return sharedsecret.New() }}

// sharedSecretBinary builds the external shared-secret plugin once.
func sharedSecretBinary(t testing.TB) (path, sum string) {
	return sdktest.BuildBinary(t, "github.com/slimid/slimid/cmd/slimid-plugin-sharedsecret")
}

// entry renders one plugin entry: built in, or external when external is
// true.
func entry(t testing.TB, name, secret string, external bool, extra string) string {
	cfg := fmt.Sprintf("    config:\n      id: org/ns/%s\n      data: %q\n%s", name, secret, extra)
	if !external {
		return fmt.Sprintf("  - name: %s\n    type: shared_secret\n%s", name, cfg)
	}
	path, sum := sharedSecretBinary(t)
	return fmt.Sprintf("  - name: %s\n    path: %s\n    sha256: %s\n%s", name, path, sum, cfg)
}

func parse(t testing.TB, yaml string) *broker.Config {
	t.Helper()
	cfg, err := broker.ParseConfig([]byte(yaml), t.TempDir())
	if err != nil {
		t.Fatalf("ParseConfig: %v\n%s", err, yaml)
	}
	return cfg
}

func start(t testing.TB, yaml string) *broker.Broker {
	t.Helper()
	b, err := broker.New(context.Background(), parse(t, yaml), broker.Options{Builtins: builtins})
	if err != nil {
		t.Fatalf("broker.New: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// minter mints tokens with secret, outside the broker.
func minter(t testing.TB, secret string) *sharedsecret.Plugin {
	t.Helper()
	p := sharedsecret.New()
	if _, err := p.Configure(context.Background(), []byte("id: org/ns/minter\ndata: "+secret)); err != nil {
		t.Fatal(err)
	}
	return p
}

func mint(t testing.TB, p *sharedsecret.Plugin) string {
	t.Helper()
	tok, err := p.FetchToken(context.Background(), sdk.TokenRequest{PublicKey: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Value
}

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func tamper(tok string) string {
	i := strings.LastIndexByte(tok, ':') + 5
	b := []byte(tok)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}
