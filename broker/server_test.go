package broker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/slimid/slimid/broker"
	brokerv1 "github.com/slimid/slimid/sdk/proto/broker/v1"
)

// shortDir returns a directory with a short path (unix socket paths are
// limited to 107 bytes), readable by everyone so only the socket's own mode
// decides who may connect.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func serve(t *testing.T, b *broker.Broker, path string, mode os.FileMode, reload broker.ReloadFunc) brokerv1.BrokerClient {
	t.Helper()
	lis, err := broker.Listen(path, mode)
	if err != nil {
		t.Fatal(err)
	}
	srv := broker.NewServer(b, lis, path, reload)
	go srv.Serve()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("unix://"+path, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return brokerv1.NewBrokerClient(conn)
}

func TestBrokerAPI(t *testing.T) {
	b := start(t, "plugins:\n"+entry(t, "team", secretA, false, ""))
	path := filepath.Join(shortDir(t), "broker.sock")
	reloads := 0
	client := serve(t, b, path, 0o600, func(context.Context) (broker.ReloadResult, error) {
		reloads++
		return broker.ReloadResult{Unchanged: []string{"team"}}, nil
	})
	ctx := context.Background()

	tok, err := client.FetchToken(ctx, &brokerv1.FetchTokenRequest{Plugin: "team", Audiences: []string{"slim"}, PublicKey: []byte("pk")})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Verify(ctx, &brokerv1.VerifyRequest{Token: tok.GetToken().GetValue(), Audiences: []string{"slim"}})
	if err != nil {
		t.Fatal(err)
	}
	if id := resp.GetIdentity(); id.GetSubject() != tok.GetToken().GetSubject() || id.GetProvider() != "team" || string(id.GetPublicKey()) != "pk" {
		t.Fatalf("identity = %v", id)
	}

	_, err = client.Verify(ctx, &brokerv1.VerifyRequest{Plugin: "team", Token: tok.GetToken().GetValue(), Audiences: []string{"other"}})
	st, _ := status.FromError(err)
	if st.Code() != codes.Unauthenticated || reason(st) != "AUDIENCE" {
		t.Fatalf("wrong audience = %v (reason %q); want UNAUTHENTICATED/AUDIENCE", err, reason(st))
	}
	_, err = client.Verify(ctx, &brokerv1.VerifyRequest{Plugin: "nosuch", Token: "x"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("unknown plugin = %v; want NOT_FOUND", err)
	}

	list, err := client.ListPlugins(ctx, &brokerv1.ListPluginsRequest{})
	if err != nil || len(list.GetPlugins()) != 1 || !list.GetPlugins()[0].GetReady() || list.GetPlugins()[0].GetType() != "shared_secret" {
		t.Fatalf("ListPlugins = %v, %v", list, err)
	}
	if _, err := client.Reload(ctx, &brokerv1.ReloadRequest{}); err != nil || reloads != 1 {
		t.Fatalf("Reload = %v (reloads %d)", err, reloads)
	}

	conn, _ := grpc.NewClient("unix://"+path, grpc.WithTransportCredentials(insecure.NewCredentials()))
	defer conn.Close()
	h, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health = %v, %v", h, err)
	}

	stream, err := client.WatchToken(ctx, &brokerv1.WatchTokenRequest{Plugin: "team"})
	if err != nil {
		t.Fatal(err)
	}
	if first, err := stream.Recv(); err != nil || first.GetToken().GetValue() == "" {
		t.Fatalf("WatchToken = %v, %v", first, err)
	}
}

func reason(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// The socket has the configured mode, and with the default 0600 another
// user cannot connect (checked for real when the tests run as root).
func TestSocketNotAccessibleToOtherUsers(t *testing.T) {
	b := start(t, "plugins:\n"+entry(t, "team", secretA, false, ""))
	dir := shortDir(t)
	for _, tc := range []struct {
		mode     os.FileMode
		wantExit int // of the other user's connection attempt
	}{{0o600, 3}, {0o666, 0}} {
		path := filepath.Join(dir, fmt.Sprintf("m%o.sock", tc.mode))
		serve(t, b, path, tc.mode, nil)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != tc.mode || fi.Mode()&os.ModeSocket == 0 {
			t.Fatalf("socket mode = %v; want %v", fi.Mode(), tc.mode)
		}
		if os.Geteuid() != 0 {
			t.Log("not root: cannot run a connection attempt as another user; checked the mode bits only")
			continue
		}
		if code := dialAs(t, dir, path, 65534); code != tc.wantExit {
			t.Fatalf("mode %v: other user's connect exited %d; want %d (0 connected, 3 permission denied)", tc.mode, code, tc.wantExit)
		}
	}
}

// dialAs runs this test binary as uid to connect to path.
func dialAs(t *testing.T, dir, path string, uid uint32) int {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "dialer")
	if _, err := os.Stat(bin); err != nil {
		raw, err := os.ReadFile(self)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, raw, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin)
	cmd.Env = []string{dialEnv + "=" + path}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		t.Fatalf("run dialer: %v", err)
	}
	return 0
}

func TestListenRefusesALiveSocketAndReplacesAStaleOne(t *testing.T) {
	path := filepath.Join(shortDir(t), "b.sock")
	lis, err := broker.Listen(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if _, err := broker.Listen(path, 0o600); err == nil || err.Error() != "another process is serving on "+path {
		t.Fatalf("second Listen = %v", err)
	}
	lis.Close() // leaves the file behind, like a crashed broker
	again, err := broker.Listen(path, 0o600)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	again.Close()
	long := "/tmp/" + strings.Repeat("x", 110)
	if _, err := broker.Listen(long, 0o600); err == nil || !strings.Contains(err.Error(), "unix sockets allow at most 107") {
		t.Fatalf("long path = %v", err)
	}
}

func TestHTTPEndpoints(t *testing.T) {
	reg := prometheus.NewRegistry()
	b, err := broker.New(context.Background(), parse(t, "plugins:\n"+entry(t, "team", secretA, false, "")), broker.Options{Builtins: builtins, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(broker.HTTPHandler(b, reg))
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz = %d %q", code, body)
	}
	if code, body := get("/readyz"); code != 200 || body != "ready\n" {
		t.Fatalf("/readyz = %d %q", code, body)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, `slimid_plugin_up{plugin="team"} 1`) {
		t.Fatalf("/metrics = %d %q", code, body)
	}
	b.Close()
	if code, body := get("/readyz"); code != 503 || !strings.HasPrefix(body, "not ready") {
		t.Fatalf("/readyz after close = %d %q", code, body)
	}
}
