package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit statuses.
const (
	exitMissed = 1 // -check and a target was missed
	exitUsage  = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "rss" {
		return runRSS(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("slimid-benchreport", flag.ContinueOnError)
	fs.SetOutput(stderr)
	check := fs.Bool("check", false, "exit with status 1 when a figure misses its target")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: slimid-benchreport [-check] [FILE|-]   (go test -bench output; stdin without FILE)")
		fmt.Fprintln(stderr, "       slimid-benchreport rss [-timeout D]   (resident memory of the broker and its plugins)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 1 {
		fs.Usage()
		return exitUsage
	}
	in, source := stdin, "standard input"
	if name := fs.Arg(0); name != "" && name != "-" {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(stderr, "slimid-benchreport: %v\n", err)
			return exitUsage
		}
		defer f.Close()
		in, source = f, name
	}
	rs, err := parse(in)
	if err != nil {
		fmt.Fprintf(stderr, "slimid-benchreport: %v\n", err)
		return exitUsage
	}
	if len(rs.order) == 0 {
		fmt.Fprintf(stderr, "slimid-benchreport: no benchmark results in %s; give it the output of go test -bench\n", source)
		return exitUsage
	}
	rows := report(rs)
	if err := printTable(stdout, heading(rs, source), rows); err != nil && !errors.Is(err, syscall.EPIPE) {
		fmt.Fprintf(stderr, "slimid-benchreport: %v\n", err)
		return exitUsage
	}
	if *check && missed(rows) {
		return exitMissed
	}
	return 0
}
