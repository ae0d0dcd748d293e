package broker

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/slimid/slimid/sdk"
)

// PluginStatus describes a loaded plugin.
type PluginStatus struct {
	Name         string
	Type         string
	Path         string
	SHA256       string
	Version      string
	Capabilities []sdk.Capability
	Up           bool
	Ready        bool
	Message      string
	Restarts     uint64
	StartedAt    time.Time
	// Pid is an external plugin's process id.
	Pid    int
	Status sdk.Status
}

// Plugins reports every plugin's state, asking each for its readiness.
func (b *Broker) Plugins(ctx context.Context) []PluginStatus {
	var out []PluginStatus
	for _, s := range b.set.Load().order {
		e := s.entry.Load()
		ps := PluginStatus{Name: s.name, Type: e.Type, Path: e.Path, SHA256: string(e.SHA256), Restarts: s.restarts.Load(), Message: "down, restarting"}
		if in, err := s.acquire(); err == nil {
			ps.Up, ps.Version, ps.Capabilities, ps.StartedAt, ps.Pid = true, in.info.Version, in.info.Capabilities, in.started, in.pid
			st, err := in.client.Status(ctx)
			in.leave()
			if err != nil {
				ps.Message = err.Error()
			} else {
				ps.Ready, ps.Message, ps.Status = st.Ready, st.Message, st
			}
		}
		out = append(out, ps)
	}
	return out
}

// WaitReady waits until the named plugins (all of them when none is named)
// report ready, or ctx ends; it then returns the reasons of those still not
// ready. Short-lived callers use it so a plugin that needs a moment (a SPIRE
// agent streaming its first bundle) is not asked too early.
func (b *Broker) WaitReady(ctx context.Context, names ...string) error {
	for {
		var waiting []string
		for _, p := range b.Plugins(ctx) {
			if (len(names) == 0 || slices.Contains(names, p.Name)) && !p.Ready {
				waiting = append(waiting, fmt.Sprintf("%s: %s", p.Name, p.Message))
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return sdk.Unavailable("not ready: %s", strings.Join(waiting, "; "))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Ready reports whether every plugin is up and ready, and why not.
func (b *Broker) Ready(ctx context.Context) (bool, []string) {
	if b.closed.Load() {
		return false, []string{"broker stopped"}
	}
	var problems []string
	for _, p := range b.Plugins(ctx) {
		if !p.Ready {
			problems = append(problems, fmt.Sprintf("%s: %s", p.Name, p.Message))
		}
	}
	return len(problems) == 0, problems
}
