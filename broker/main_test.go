package broker_test

import (
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
)

// dialEnv makes the test binary, re-run as another user, try to connect to
// a socket and report the result in its exit code.
const dialEnv = "SLIMID_TEST_DIAL_SOCKET"

func TestMain(m *testing.M) {
	if path := os.Getenv(dialEnv); path != "" {
		c, err := net.Dial("unix", path)
		switch {
		case err == nil:
			c.Close()
			os.Exit(0)
		case errors.Is(err, syscall.EACCES):
			os.Exit(3)
		default:
			os.Exit(4)
		}
	}
	os.Exit(m.Run())
}
