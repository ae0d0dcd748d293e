package main_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	moderatorv1 "github.com/slimid/slimid/sdk/proto/moderator/v1"
	"github.com/slimid/slimid/sdk/sdktest"
)

// The moderator daemon serves the channel manager and health on a 0600
// socket, stops cleanly on SIGTERM (and on SIGINT), and finds its channels
// again when it starts on the same state directory.
func TestModeratorDaemon(t *testing.T) {
	bin, _ := sdktest.BuildBinary(t, "github.com/slimid/slimid/cmd/slimid")
	dir, err := os.MkdirTemp("", "md")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	socket := filepath.Join(dir, "mod.sock")
	start := func() (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(bin, "moderator", "--state", filepath.Join(dir, "state"), "--listen", "unix://"+socket, "--audit", filepath.Join(dir, "audit.jsonl"))
		cmd.Env = append(os.Environ(), "SLIMID_STATE_DIR="+filepath.Join(dir, "home"), "XDG_RUNTIME_DIR=")
		var logs bytes.Buffer
		cmd.Stderr = &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill() })
		waitFor(t, func() bool { _, err := os.Stat(socket); return err == nil })
		return cmd, &logs
	}
	stop := func(cmd *exec.Cmd, logs *bytes.Buffer, sig syscall.Signal) {
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("moderator exit after %s: %v\n%s", sig, err, logs)
		}
		if _, err := os.Stat(socket); !os.IsNotExist(err) {
			t.Fatalf("socket left behind: %v", err)
		}
	}
	dial := func() (moderatorv1.ChannelManagerClient, *grpc.ClientConn) {
		conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		return moderatorv1.NewChannelManagerClient(conn), conn
	}
	ctx := context.Background()

	cmd, logs := start()
	if fi, _ := os.Stat(socket); fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v", fi.Mode())
	}
	cm, conn := dial()
	health, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: moderatorv1.ChannelManager_ServiceDesc.ServiceName})
	if err != nil || health.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v %v", health, err)
	}
	if _, err := cm.CreateChannel(ctx, &moderatorv1.CreateChannelRequest{ChannelName: "org/ns/chat", MlsEnabled: true}); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	stop(cmd, logs, syscall.SIGTERM)

	cmd, logs = start()
	cm, conn = dial()
	defer conn.Close()
	list, err := cm.ListChannels(ctx, &moderatorv1.ListChannelsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetChannels()) != 1 || list.GetChannels()[0].GetName() != "org/ns/chat" || list.GetChannels()[0].GetMembers() != 1 {
		t.Fatalf("after a restart: %v", list.GetChannels())
	}
	stop(cmd, logs, syscall.SIGINT)
}
