// Command echoplugin is a bare go-plugin gRPC server with one unary method
// and no slimid code: the transport floor that broker benchmarks compare the
// plugin path against. It answers every request with ECHO_RESPONSE_BYTES
// bytes, so request and response sizes match a real verification.
package main

import (
	"context"
	"os"
	"strconv"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Handshake is the echo plugin's own, unrelated to slimid's.
var Handshake = plugin.HandshakeConfig{ProtocolVersion: 1, MagicCookieKey: "ECHO_PLUGIN", MagicCookieValue: "echo"}

type echoPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	response []byte
}

func (p *echoPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	s.RegisterService(&grpc.ServiceDesc{
		ServiceName: "echo.Echo",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Echo",
			Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				in := new(wrapperspb.BytesValue)
				if err := dec(in); err != nil {
					return nil, err
				}
				return wrapperspb.Bytes(p.response), nil
			},
		}},
	}, struct{}{})
	return nil
}

func (p *echoPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, nil
}

func main() {
	n, _ := strconv.Atoi(os.Getenv("ECHO_RESPONSE_BYTES"))
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         plugin.PluginSet{"echo": &echoPlugin{response: make([]byte, n)}},
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}
