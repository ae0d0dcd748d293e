// Command slimid is the identity broker for SLIM groups: it runs the broker
// daemon, mints and verifies tokens with its plugins, and lists them.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/slimid/slimid/sdk"
)

// Exit codes.
const (
	exitRejected    = 1 // the credential was refused (a verdict)
	exitUsage       = 2 // bad flags or configuration
	exitUnavailable = 3 // a plugin or provider could not decide (an outage)
)

func main() {
	cmd := newRootCommand()
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "slimid: "+oneLine(err))
		os.Exit(exitCode(err))
	}
}

func exitCode(err error) int {
	switch {
	case errors.Is(err, sdk.ErrRejected):
		return exitRejected
	case errors.Is(err, sdk.ErrUnavailable):
		return exitUnavailable
	}
	return exitUsage
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", " ")), " ")
}
