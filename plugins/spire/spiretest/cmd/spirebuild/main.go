// Command spirebuild builds the SPIRE binaries the tests run, so that CI
// can pay for the cold build (5-12 minutes) in a step of its own:
//
//	go run ./plugins/spire/spiretest/cmd/spirebuild
//
// It prints the directory that holds spire-server and spire-agent. It
// builds into $SLIMID_SPIRE_BIN_DIR when set, else into
// ${XDG_CACHE_HOME:-~/.cache}/slimid/spire-<version>, and does nothing when
// both binaries are there already. Run it from inside the repository.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/slimid/slimid/plugins/spire/spiretest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, spiretest.BuildTimeout)
	defer cancel()
	dir, err := spiretest.BinDir()
	if err == nil {
		fmt.Fprintf(os.Stderr, "spirebuild: SPIRE %s in %s\n", spiretest.Version, dir)
		err = spiretest.Build(ctx, dir, os.Stderr)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "spirebuild: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(dir)
}
