package sdk

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// LaunchConfig starts an external plugin binary.
type LaunchConfig struct {
	// Name is the plugin entry's name, used in errors and logs.
	Name string
	// Path is the binary's absolute path.
	Path string
	Args []string
	// Env adds KEY=VALUE pairs to the inherited environment.
	Env []string
	// SHA256 is the binary's pinned digest, in hex. Required.
	SHA256 string
	// Logger receives the plugin's log lines; give it the fields that name
	// the plugin.
	Logger *slog.Logger
	// StartTimeout bounds the handshake. Zero: 10 s.
	StartTimeout time.Duration
}

// Process is a running external plugin.
type Process struct {
	Client *Client
	pc     *plugin.Client
	pid    int
	pidw   *pidWatch
	done   chan struct{}
	stop   chan struct{}
	once   sync.Once
}

// FileSHA256 returns the hex sha256 of a file.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Launch starts an external plugin over go-plugin with mutual TLS and a
// checksum check, and connects a Client to it. The process dies with its
// parent on Linux.
func Launch(cfg LaunchConfig) (*Process, error) {
	prefix := fmt.Sprintf("plugin(%s)", cfg.Name)
	if !filepath.IsAbs(cfg.Path) {
		return nil, fmt.Errorf("%s: path %q is not absolute", prefix, cfg.Path)
	}
	want := strings.ToLower(strings.TrimPrefix(cfg.SHA256, "sha256:"))
	if want == "" {
		return nil, fmt.Errorf("%s: no sha256 pinned for %s (run: slimid plugins checksum %s)", prefix, cfg.Path, cfg.Path)
	}
	sum, err := hex.DecodeString(want)
	if err != nil || len(sum) != sha256.Size {
		return nil, fmt.Errorf("%s: sha256 %q is not 64 hex digits", prefix, cfg.SHA256)
	}
	got, err := FileSHA256(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("%s: read binary: %v", prefix, err)
	}
	if got != want {
		return nil, fmt.Errorf("%s: checksum mismatch for %s: configured sha256 %s, file has %s; refusing to start", prefix, cfg.Path, want, got)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := cfg.StartTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	cmd := exec.Command(cfg.Path, cfg.Args...)
	cmd.Env = append(os.Environ(), cfg.Env...)
	dieWithParent(cmd)
	pc := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		Plugins:          plugin.PluginSet{PluginSetKey: &GRPCPlugin{}},
		Cmd:              cmd,
		SecureConfig:     &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		StartTimeout:     timeout,
		Logger:           newHCLogger(log),
	})
	rpc, err := pc.Client()
	if err != nil {
		pc.Kill()
		return nil, fmt.Errorf("%s: start %s: %v", prefix, cfg.Path, err)
	}
	raw, err := rpc.Dispense(PluginSetKey)
	if err != nil {
		pc.Kill()
		return nil, fmt.Errorf("%s: connect: %v", prefix, err)
	}
	conn, ok := raw.(*grpc.ClientConn)
	if !ok {
		pc.Kill()
		return nil, fmt.Errorf("%s: unexpected connection type %T", prefix, raw)
	}
	p := &Process{Client: NewClient(conn, cfg.Name), pc: pc, done: make(chan struct{}), stop: make(chan struct{})}
	if rc := pc.ReattachConfig(); rc != nil {
		p.pid = rc.Pid
	}
	if p.pid > 0 {
		p.pidw, _ = watchPid(p.pid)
	}
	go p.watch()
	return p, nil
}

// watch closes done when the process exits, however it ends: at once where
// the kernel can tell (pidfd), else within a poll interval.
func (p *Process) watch() {
	defer close(p.done)
	if p.pidw != nil {
		select {
		case <-p.pidw.exited:
		case <-p.stop:
		}
		return
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			if p.pc.Exited() {
				return
			}
		}
	}
}

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Alive reports whether the process is running, asking the kernel at the
// moment of the call where it can (Linux), so a caller never acts on a
// plugin that has already died.
func (p *Process) Alive() bool {
	if p.pidw != nil {
		return p.pidw.alive()
	}
	select {
	case <-p.done:
		return false
	default:
		return !p.pc.Exited()
	}
}

// Pid is the plugin's process id.
func (p *Process) Pid() int { return p.pid }

// Kill ends the process and waits for it.
func (p *Process) Kill() {
	p.once.Do(func() {
		p.pc.Kill()
		close(p.stop)
	})
	<-p.done
}
