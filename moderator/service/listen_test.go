package service_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/slimid/slimid/moderator/service"
)

func TestListenRefuses(t *testing.T) {
	tests := []struct {
		name, address, want string
	}{
		{"relative socket path", "unix://mod.sock", `listen address "unix://mod.sock": give an absolute path, as in unix:///run/slimid/moderator.sock`},
		{"no port", "127.0.0.1", `listen address "127.0.0.1": use unix:///path/to.sock or a loopback host:port such as 127.0.0.1:7443`},
		{"not loopback", "0.0.0.0:7443", `listen address "0.0.0.0:7443" is not a loopback address: the moderator API has no transport security; use 127.0.0.1, [::1] or a unix socket`},
		{"a host name", "example.com:7443", `listen address "example.com:7443" is not a loopback address: the moderator API has no transport security; use 127.0.0.1, [::1] or a unix socket`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lis, err := service.Listen(tt.address)
			if err == nil {
				lis.Close()
				t.Fatal("accepted")
			}
			if err.Error() != tt.want {
				t.Fatalf("got %q\nwant %q", err, tt.want)
			}
		})
	}
}

func TestListenUnixSocketIsPrivate(t *testing.T) {
	path := filepath.Join(shortDir(t), "run", "mod.sock")
	lis, err := service.Listen("unix://" + path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket mode %v, want a 0600 socket", fi.Mode())
	}
	lis.Close()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the socket outlived its listener: %v", err)
	}
}

func TestListenLoopbackTCP(t *testing.T) {
	lis, err := service.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lis.Close()
}
