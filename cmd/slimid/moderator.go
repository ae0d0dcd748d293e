package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/audit"
	"github.com/slimid/slimid/moderator/service"
)

func newModeratorCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "moderator",
		Short: "Run the moderator daemon: SLIM's channel manager and the members' MLS delivery service",
		Long: `Run the moderator: it serves SLIM's channel-manager API (CreateChannel,
AddParticipant, DeleteParticipant, ListChannels, ListParticipants, ...) to
operators and the Moderator service members connect to, on one unix socket
(mode 0600) or a loopback TCP address, with gRPC health.

Each channel is an MLS group whose first member is the moderator. A
participant is admitted only if its key package's credential verifies
through the broker, binds the key package's own signature key, and passes
the channel's policy; the moderator then delivers the commit to the members
and the Welcome to the newcomer, fans application messages out, commits
members' credential renewals and removes those whose credentials expire
unrenewed or lose trust.

Its credential comes from --plugin. Channel state (MLS secrets included) is
kept in --state; protect it like a private key. SIGINT or SIGTERM stops.`,
		Example: `  slimid moderator --config slimid.yaml --plugin team --listen unix:///run/slimid/moderator.sock
  slimid moderator --broker /run/slimid/broker.sock --plugin team --audit /var/log/slimid/audit.jsonl`,
		Args: cobra.NoArgs,
		RunE: runModerator,
	}
	cmd.Flags().String("broker", "", "use the running broker on this socket instead of starting plugins here")
	cmd.Flags().String("plugin", "", "plugin entry the moderator's credential comes from (default: the only one that mints)")
	cmd.Flags().String("state", "", "moderator state directory (default: <state-dir>/moderator)")
	cmd.Flags().String("listen", "", "unix:///path/to.sock or a loopback host:port (default: unix://<runtime or state dir>/moderator.sock)")
	cmd.Flags().String("audit", "", "append audit events to this JSON-lines file")
	cmd.Flags().String("http", "", "address for /healthz and /metrics, e.g. 127.0.0.1:9465")
	cmd.Flags().Duration("retry-interval", service.DefaultRetryInterval, "re-send an unacknowledged delivery after this long")
	cmd.Flags().Int("max-retries", service.DefaultMaxRetries, "re-sends before a participant is reported unresponsive")
	cmd.Flags().Duration("expiry-grace", time.Minute, "how long a member whose credential expired unrenewed stays before removal")
	cmd.Flags().Duration("ready-timeout", 10*time.Second, "how long to wait for the plugins to become ready")
	return cmd
}

func runModerator(cmd *cobra.Command, _ []string) error {
	log, err := newLogger(cmd)
	if err != nil {
		return err
	}
	plugin, _ := cmd.Flags().GetString("plugin")
	retry, _ := cmd.Flags().GetDuration("retry-interval")
	retries, _ := cmd.Flags().GetInt("max-retries")
	grace, _ := cmd.Flags().GetDuration("expiry-grace")
	if retry <= 0 || retries <= 0 || grace <= 0 {
		return fmt.Errorf("--retry-interval, --max-retries and --expiry-grace must be positive")
	}
	state, listen, err := moderatorPaths(cmd)
	if err != nil {
		return err
	}
	// Listen first: a bad address is reported before plugins start, and
	// clients that connect early wait for Serve.
	lis, err := service.Listen(listen)
	if err != nil {
		return err
	}
	defer lis.Close()
	broker, err := openService(cmd)
	if err != nil {
		return err
	}
	defer broker.Close()

	sink := audit.Sink(audit.NewLogSink(log))
	if path, _ := cmd.Flags().GetString("audit"); path != "" {
		file, err := audit.OpenFile(path)
		if err != nil {
			return fmt.Errorf("--audit: %v", err)
		}
		defer file.Close()
		sink = audit.Multi(sink, file)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	svc, err := service.Open(cmd.Context(), service.Config{
		Moderator: moderator.Config{StateDir: state, Verifier: broker, Tokens: broker, Audit: sink, Logger: log, ExpiryGrace: grace},
		Plugin:    plugin, RetryInterval: retry, MaxRetries: retries, Logger: log, Registerer: reg,
	})
	if err != nil {
		return err
	}
	defer svc.Close()
	if addr, _ := cmd.Flags().GetString("http"); addr != "" {
		hl, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("--http: %v", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(prometheus.Gatherers{reg, prometheus.DefaultGatherer}, promhttp.HandlerOpts{}))
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
		hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go hs.Serve(hl)
		defer hs.Close()
		log.Info("http endpoints", "address", hl.Addr().String(), "paths", "/healthz /metrics")
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Info("moderator starting", "listen", listen, "state", state, "plugin", plugin, "channels", len(svc.Moderator().Groups()))
	err = svc.Serve(ctx, lis)
	log.Info("moderator stopped")
	return err
}

// moderatorPaths resolves --state and --listen.
func moderatorPaths(cmd *cobra.Command) (state, listen string, err error) {
	state, _ = cmd.Flags().GetString("state")
	listen, _ = cmd.Flags().GetString("listen")
	if state != "" && listen != "" {
		return state, listen, nil
	}
	dir, err := stateDir(cmd)
	if err != nil {
		return "", "", err
	}
	if state == "" {
		state = filepath.Join(dir, "moderator")
	}
	if listen == "" {
		listen = "unix://" + filepath.Join(filepath.Dir(defaultSocket(dir)), "moderator.sock")
	}
	if !filepath.IsAbs(state) {
		if state, err = filepath.Abs(state); err != nil {
			return "", "", errors.New("--state: " + err.Error())
		}
	}
	return state, listen, nil
}
