package broker_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/slimid/slimid/broker"
	"github.com/slimid/slimid/plugins/sharedsecret"
	"github.com/slimid/slimid/sdk"
	identityv1 "github.com/slimid/slimid/sdk/proto/identity/v1"
)

// BenchmarkVerifyPaths measures one shared-secret verification along every
// path, in one run so the ratios hold on a noisy machine:
//
//	direct      the plugin's code called in process
//	builtin     through the broker, built in, over the in-memory gRPC pipe
//	external    through the broker, as an external go-plugin binary
//	cache-hit   through the broker, answered from the verdict cache
//	echo        a bare go-plugin gRPC round trip with the same payload sizes
//
// The broker paths run with the cache off except cache-hit.
func BenchmarkVerifyPaths(b *testing.B) {
	ctx := context.Background()
	m := minter(b, secretA)
	tok, err := m.FetchToken(ctx, sdk.TokenRequest{PublicKey: make([]byte, 32), Audiences: []string{"slim"}})
	if err != nil {
		b.Fatal(err)
	}
	req := sdk.VerifyRequest{Token: tok.Value, Audiences: []string{"slim"}}
	id, err := m.Verify(ctx, req)
	if err != nil {
		b.Fatal(err)
	}

	b.Run("direct", func(b *testing.B) {
		p := sharedsecret.New()
		if _, err := p.Configure(ctx, []byte("id: x\ndata: "+secretA)); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Verify(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, mode := range []struct {
		name     string
		external bool
		cache    string
		parallel bool
	}{
		{"builtin", false, "cache: {max_entries: -1}\n", false},
		{"external", true, "cache: {max_entries: -1}\n", false},
		{"external-parallel", true, "cache: {max_entries: -1}\n", true},
		{"cache-hit", false, "", false},
	} {
		b.Run(mode.name, func(b *testing.B) {
			br, err := broker.New(ctx, parse(b, mode.cache+"plugins:\n"+entry(b, "team", secretA, mode.external, "")), broker.Options{Builtins: builtins})
			if err != nil {
				b.Fatal(err)
			}
			defer br.Close()
			if _, err := br.Verify(ctx, "team", req); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			if mode.parallel {
				b.SetParallelism(4)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := br.Verify(ctx, "team", req); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
				return
			}
			for b.Loop() {
				if _, err := br.Verify(ctx, "team", req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// paired alternates the external plugin and the echo floor in one loop,
	// so both see the same machine state: on a noisy host the ratio holds
	// even when the absolute figures drift.
	b.Run("external-vs-echo", func(b *testing.B) {
		br, err := broker.New(ctx, parse(b, "cache: {max_entries: -1}\nplugins:\n"+entry(b, "team", secretA, true, "")), broker.Options{Builtins: builtins})
		if err != nil {
			b.Fatal(err)
		}
		defer br.Close()
		wire, _ := sdk.IdentityToWire(id)
		conn := startEcho(b, proto.Size(&identityv1.VerifyResponse{Identity: wire}))
		payload := wrapperspb.Bytes(make([]byte, proto.Size(&identityv1.VerifyRequest{Token: req.Token, Audiences: req.Audiences})))
		var external, echo time.Duration
		for b.Loop() {
			start := time.Now()
			if _, err := br.Verify(ctx, "team", req); err != nil {
				b.Fatal(err)
			}
			mid := time.Now()
			if err := conn.Invoke(ctx, "/echo.Echo/Echo", payload, new(wrapperspb.BytesValue)); err != nil {
				b.Fatal(err)
			}
			external += mid.Sub(start)
			echo += time.Since(mid)
		}
		b.ReportMetric(float64(external.Nanoseconds())/float64(b.N), "external-ns/op")
		b.ReportMetric(float64(echo.Nanoseconds())/float64(b.N), "echo-ns/op")
	})
	b.Run("echo", func(b *testing.B) {
		wire, _ := sdk.IdentityToWire(id)
		respBytes := proto.Size(&identityv1.VerifyResponse{Identity: wire})
		reqBytes := proto.Size(&identityv1.VerifyRequest{Token: req.Token, Audiences: req.Audiences})
		conn := startEcho(b, respBytes)
		payload := wrapperspb.Bytes(make([]byte, reqBytes))
		b.ReportAllocs()
		for b.Loop() {
			out := new(wrapperspb.BytesValue)
			if err := conn.Invoke(ctx, "/echo.Echo/Echo", payload, out); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// startEcho launches the bare echo plugin the way sdk.Launch launches ours:
// go-plugin, gRPC, AutoMTLS, checksum.
func startEcho(b *testing.B, respBytes int) *grpc.ClientConn {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "echoplugin")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/echoplugin").CombinedOutput(); err != nil {
		b.Fatalf("build echo plugin: %v\n%s", err, out)
	}
	raw, _ := os.ReadFile(bin)
	sum := sha256.Sum256(raw)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), fmt.Sprintf("ECHO_RESPONSE_BYTES=%d", respBytes))
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  plugin.HandshakeConfig{ProtocolVersion: 1, MagicCookieKey: "ECHO_PLUGIN", MagicCookieValue: "echo"},
		Plugins:          plugin.PluginSet{"echo": &echoClientPlugin{}},
		Cmd:              cmd,
		SecureConfig:     &plugin.SecureConfig{Checksum: sum[:], Hash: sha256.New()},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		Logger:           hclog.NewNullLogger(),
	})
	b.Cleanup(client.Kill)
	rpc, err := client.Client()
	if err != nil {
		b.Fatal(err)
	}
	conn, err := rpc.Dispense("echo")
	if err != nil {
		b.Fatal(err)
	}
	return conn.(*grpc.ClientConn)
}

type echoClientPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (echoClientPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return nil }
func (echoClientPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return c, nil
}
