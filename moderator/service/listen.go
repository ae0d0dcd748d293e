package service

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/slimid/slimid/broker"
)

// SocketMode is the mode of the moderator's unix socket: only its owner may
// manage channels or connect as a member.
const SocketMode os.FileMode = 0o600

// Listen opens the moderator's listener. address is unix:///path/to.sock (a
// socket made mode 0600 and moved into place, as the broker does, so it is
// never reachable with looser permissions) or a loopback host:port such as
// 127.0.0.1:7443. Other addresses are refused: the API has no transport
// security of its own.
func Listen(address string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(address, "unix://"); ok {
		if path == "" || !strings.HasPrefix(path, "/") {
			return nil, fmt.Errorf("listen address %q: give an absolute path, as in unix:///run/slimid/moderator.sock", address)
		}
		lis, err := broker.Listen(path, SocketMode)
		if err != nil {
			return nil, err
		}
		return &unixListener{Listener: lis, path: path}, nil
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: use unix:///path/to.sock or a loopback host:port such as 127.0.0.1:7443", address)
	}
	if host != "localhost" {
		ip, err := netip.ParseAddr(host)
		if err != nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("listen address %q is not a loopback address: the moderator API has no transport security; use 127.0.0.1, [::1] or a unix socket", address)
		}
	}
	lis, err := net.Listen("tcp", address)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %v", address, err)
	}
	return lis, nil
}

// unixListener removes its socket file when closed.
type unixListener struct {
	net.Listener
	path string
}

func (l *unixListener) Close() error {
	err := l.Listener.Close()
	os.Remove(l.path)
	return err
}
