package sdk

import (
	"context"
	"log/slog"
	"os"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// Handshake is shared by the broker and every plugin binary. A binary started
// by hand (without the cookie) explains itself and exits.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "SLIMID_PLUGIN",
	MagicCookieValue: "identity-v1",
}

// PluginSetKey names the one plugin a binary serves in go-plugin's plugin set.
const PluginSetKey = "identity"

// GRPCPlugin joins an identity plugin to go-plugin. On the plugin side Impl is
// served; on the host side Dispense returns the *grpc.ClientConn to build a
// Client with.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Plugin
	Log  *slog.Logger
}

var _ plugin.GRPCPlugin = (*GRPCPlugin)(nil)

// GRPCServer registers the plugin's service.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	RegisterServer(s, p.Impl, p.Log)
	return nil
}

// GRPCClient hands the connection to the host.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return conn, nil
}

// Serve runs p as an external plugin binary; it returns when the host ends
// the plugin. Logs written to the logger it passes (see LoggerSetter) reach
// the host's log.
func Serve(p Plugin) {
	log := PluginLogger(os.Stderr)
	if ls, ok := p.(LoggerSetter); ok {
		ls.SetLogger(log)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         plugin.PluginSet{PluginSetKey: &GRPCPlugin{Impl: p, Log: log}},
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}
