package sdk

import (
	"context"
	"io"
	"log/slog"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
)

const pipeBuffer = 1 << 20

// InProcess is a plugin served over an in-memory gRPC connection: a built-in
// plugin takes the same wire path, with the same glue and error mapping, as
// an external binary.
type InProcess struct {
	Client *Client
	plugin Plugin
	conn   *grpc.ClientConn
	server *grpc.Server
}

// ServeInProcess serves p in memory and connects a Client named name to it.
func ServeInProcess(p Plugin, name string, log *slog.Logger) (*InProcess, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if ls, ok := p.(LoggerSetter); ok {
		ls.SetLogger(log)
	}
	lis := bufconn.Listen(pipeBuffer)
	srv := grpc.NewServer()
	RegisterServer(srv, p, log)
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///in-process",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		srv.Stop()
		return nil, err
	}
	return &InProcess{Client: NewClient(conn, name), plugin: p, conn: conn, server: srv}, nil
}

// Close ends the connection and stops the server at once (in-flight calls
// fail as unavailable), then closes the plugin if it holds resources (an
// io.Closer), as an external plugin's would be freed when its process ends.
func (p *InProcess) Close() {
	_ = p.conn.Close()
	p.server.Stop()
	if c, ok := p.plugin.(io.Closer); ok {
		_ = c.Close()
	}
}
