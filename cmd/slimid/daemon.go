package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/slimid/slimid/broker"
)

func newBrokerCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run the broker daemon",
		Long: `Run the broker: load the configured plugins, supervise them, and serve the
broker API (FetchToken, WatchToken, Verify, ListPlugins, Reload) and gRPC
health on a unix socket. SIGHUP re-reads the configuration file and swaps
changed plugins without a gap; SIGINT or SIGTERM stops.`,
		Args: cobra.NoArgs,
		RunE: runBroker,
	}
	cmd.Flags().String("socket", "", "broker API socket (overrides the configuration)")
	cmd.Flags().String("http", "", "address for /healthz, /readyz and /metrics, e.g. 127.0.0.1:9464 (overrides the configuration)")
	return cmd
}

func runBroker(cmd *cobra.Command, _ []string) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	b, cfg, path, err := startBroker(cmd, reg, false)
	if err != nil {
		return err
	}
	defer b.Close()
	log, _ := newLogger(cmd)

	socket := cfg.Socket
	if s, _ := cmd.Flags().GetString("socket"); s != "" {
		socket = s
	}
	if socket == "" {
		dir, err := stateDir(cmd)
		if err != nil {
			return err
		}
		socket = defaultSocket(dir)
	}
	mode, err := cfg.SocketModeBits()
	if err != nil {
		return err
	}
	lis, err := broker.Listen(socket, mode)
	if err != nil {
		return err
	}
	reload := func(ctx context.Context) (broker.ReloadResult, error) {
		if path == "" {
			return broker.ReloadResult{}, errors.New("running the embedded default: nothing to reload")
		}
		next, err := broker.LoadConfig(path)
		if err != nil {
			return broker.ReloadResult{}, err
		}
		return b.Reload(ctx, next)
	}
	srv := broker.NewServer(b, lis, socket, reload)
	serveErr := make(chan error, 2)
	go func() { serveErr <- srv.Serve() }()
	defer srv.Stop()

	httpAddr := cfg.HTTP
	if a, _ := cmd.Flags().GetString("http"); a != "" {
		httpAddr = a
	}
	if httpAddr != "" {
		hl, err := net.Listen("tcp", httpAddr)
		if err != nil {
			return fmt.Errorf("http: %v", err)
		}
		// Plugins built in register their own metrics on the default
		// registry; serve both.
		gatherers := prometheus.Gatherers{reg, prometheus.DefaultGatherer}
		hs := &http.Server{Handler: broker.HTTPHandler(b, gatherers), ReadHeaderTimeout: 5 * time.Second}
		go func() { serveErr <- hs.Serve(hl) }()
		defer hs.Close()
		log.Info("http endpoints", "address", hl.Addr().String(), "paths", "/healthz /readyz /metrics")
	}
	var names []string
	for _, p := range b.Plugins(cmd.Context()) {
		names = append(names, p.Name)
	}
	log.Info("broker serving", "socket", socket, "plugins", names, "config", orDefault(path))

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	for {
		select {
		case err := <-serveErr:
			return err
		case sig := <-signals:
			if sig != syscall.SIGHUP {
				log.Info("stopping", "signal", sig.String())
				return nil
			}
			res, err := reload(cmd.Context())
			if err != nil {
				log.Error("reload failed; keeping the running configuration", "error", err)
				continue
			}
			log.Info("reloaded", "started", res.Started, "replaced", res.Replaced, "stopped", res.Stopped, "unchanged", res.Unchanged, "notes", res.Notes)
		}
	}
}

func orDefault(path string) string {
	if path == "" {
		return "embedded default"
	}
	return path
}
