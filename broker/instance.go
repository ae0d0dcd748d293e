package broker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/slimid/slimid/sdk"
)

// Builtins maps a built-in type name to its constructor.
type Builtins map[string]func() sdk.Plugin

// instance is one running copy of a plugin, built in or external.
type instance struct {
	client  *sdk.Client
	info    sdk.Info
	sha256  string
	pid     int
	started time.Time
	kill    func()
	done    <-chan struct{} // closed when the plugin process has exited
	alive   func() bool     // asks synchronously whether it still runs

	// ctx ends when the instance is retired: its streams stop.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.RWMutex
	retired bool
	calls   sync.WaitGroup
}

// enter registers a call; false once the instance is retired.
func (in *instance) enter() bool {
	in.mu.RLock()
	defer in.mu.RUnlock()
	if in.retired {
		return false
	}
	in.calls.Add(1)
	return true
}

func (in *instance) leave() { in.calls.Done() }

// retire refuses new calls, cancels its streams, waits for calls in flight
// (up to grace) and ends the plugin.
func (in *instance) retire(grace time.Duration) {
	in.mu.Lock()
	already := in.retired
	in.retired = true
	in.mu.Unlock()
	if already {
		return
	}
	in.cancel()
	drained := make(chan struct{})
	go func() { in.calls.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(grace):
	}
	in.kill()
}

// exited reports, without blocking, whether the plugin process has died.
func (in *instance) exited() bool {
	select {
	case <-in.done:
		return true
	default:
		return false
	}
}

func (in *instance) isRetired() bool {
	in.mu.RLock()
	defer in.mu.RUnlock()
	return in.retired
}

// startInstance starts and configures one instance of the entry; ctx bounds
// the start, lifetime the instance's streams.
func startInstance(ctx, lifetime context.Context, entry PluginConfig, builtins Builtins, log *slog.Logger) (*instance, error) {
	in := &instance{started: time.Now()}
	plog := log // already carries the plugin's name
	if entry.Type != "" {
		ctor, ok := builtins[entry.Type]
		if !ok {
			return nil, fmt.Errorf("plugin(%s): unknown type %q (built-in types: %s)", entry.Name, entry.Type, builtinNames(builtins))
		}
		ip, err := sdk.ServeInProcess(ctor(), entry.Name, plog)
		if err != nil {
			return nil, fmt.Errorf("plugin(%s): %v", entry.Name, err)
		}
		done := make(chan struct{})
		var once sync.Once
		in.client, in.done = ip.Client, done
		in.kill = func() { once.Do(func() { ip.Close(); close(done) }) }
		in.alive = func() bool { return !in.exited() }
	} else {
		proc, err := sdk.Launch(sdk.LaunchConfig{Name: entry.Name, Path: entry.Path, Args: entry.Args, Env: entry.Env, SHA256: string(entry.SHA256), Logger: plog})
		if err != nil {
			return nil, err
		}
		in.client, in.done, in.kill, in.pid, in.alive = proc.Client, proc.Done(), proc.Kill, proc.Pid(), proc.Alive
		in.sha256 = string(entry.SHA256)
	}
	in.ctx, in.cancel = context.WithCancel(lifetime)
	info, err := in.client.Info(ctx)
	if err != nil {
		in.kill()
		return nil, err
	}
	in.info = info
	notes, err := in.client.Configure(ctx, entry.Config)
	if err != nil {
		in.kill()
		return nil, err
	}
	for _, n := range notes {
		plog.Info("configuration note", "note", n)
	}
	return in, nil
}

// waitReady polls Status until the instance says it is ready.
func (in *instance) waitReady(ctx context.Context, timeout time.Duration) (sdk.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		st, err := in.client.Status(ctx)
		if err == nil && st.Ready {
			return st, nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return st, err
			}
			return st, fmt.Errorf("plugin(%s): not ready after %s: %s", in.client.Name(), timeout, st.Message)
		case <-in.done:
			return st, sdk.Unavailable("plugin(%s): exited while starting", in.client.Name())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
