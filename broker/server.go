package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/slimid/slimid/sdk"
	brokerv1 "github.com/slimid/slimid/sdk/proto/broker/v1"
	identityv1 "github.com/slimid/slimid/sdk/proto/identity/v1"
)

// ReloadFunc re-reads the configuration and reloads the broker.
type ReloadFunc func(ctx context.Context) (ReloadResult, error)

// Server serves the broker API and gRPC health on a unix socket.
type Server struct {
	brokerv1.UnimplementedBrokerServer
	b      *Broker
	reload ReloadFunc
	grpc   *grpc.Server
	health *health.Server
	lis    net.Listener
	path   string
}

var _ brokerv1.BrokerServer = (*Server)(nil)

// Listen creates the socket at path with the given mode. The socket is made
// in a private directory, given its mode, then moved into place, so it is
// never reachable with looser permissions. A stale socket left by a dead
// broker is replaced; a live one is an error.
func Listen(path string, mode os.FileMode) (net.Listener, error) {
	if len(path) > 107 {
		return nil, fmt.Errorf("socket path %q is %d bytes; unix sockets allow at most 107", path, len(path))
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("socket directory: %v", err)
	}
	if _, err := os.Stat(path); err == nil {
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("another process is serving on %s", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket: %v", err)
		}
	}
	private, err := os.MkdirTemp(dir, ".slimid-")
	if err != nil {
		return nil, fmt.Errorf("socket directory: %v", err)
	}
	defer os.RemoveAll(private)
	tmp := filepath.Join(private, "s")
	lis, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %v", path, err)
	}
	lis.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, mode); err != nil {
		lis.Close()
		return nil, fmt.Errorf("socket mode: %v", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		lis.Close()
		return nil, fmt.Errorf("place socket at %s: %v", path, err)
	}
	return lis, nil
}

// NewServer serves b on lis. reload may be nil (the Reload call then fails).
func NewServer(b *Broker, lis net.Listener, path string, reload ReloadFunc) *Server {
	s := &Server{b: b, reload: reload, grpc: grpc.NewServer(), health: health.NewServer(), lis: lis, path: path}
	brokerv1.RegisterBrokerServer(s.grpc, s)
	healthpb.RegisterHealthServer(s.grpc, s.health)
	return s
}

// Serve blocks until Stop.
func (s *Server) Serve() error {
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(brokerv1.Broker_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	err := s.grpc.Serve(s.lis)
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// Stop ends the server: new calls are refused, running ones finish.
func (s *Server) Stop() {
	s.health.Shutdown()
	s.grpc.GracefulStop()
	os.Remove(s.path)
}

// SetReady reflects readiness in gRPC health.
func (s *Server) SetReady(ready bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if ready {
		st = healthpb.HealthCheckResponse_SERVING
	}
	s.health.SetServingStatus(brokerv1.Broker_ServiceDesc.ServiceName, st)
}

// toStatus maps broker errors to gRPC codes (an unknown plugin is NOT_FOUND,
// a missing plugin name INVALID_ARGUMENT).
func toStatus(err error) error {
	return sdk.ToStatus(err)
}

func tokenRequest(audiences []string, key []byte, ttl interface{ AsDuration() time.Duration }) sdk.TokenRequest {
	req := sdk.TokenRequest{Audiences: audiences, PublicKey: key}
	if ttl != nil {
		req.TTLHint = ttl.AsDuration()
	}
	return req
}

func (s *Server) FetchToken(ctx context.Context, req *brokerv1.FetchTokenRequest) (*brokerv1.FetchTokenResponse, error) {
	tok, err := s.b.FetchToken(ctx, req.GetPlugin(), tokenRequest(req.GetAudiences(), req.GetPublicKey(), req.GetTtlHint()))
	if err != nil {
		return nil, toStatus(err)
	}
	return &brokerv1.FetchTokenResponse{Token: sdk.TokenToWire(tok)}, nil
}

func (s *Server) WatchToken(req *brokerv1.WatchTokenRequest, stream grpc.ServerStreamingServer[brokerv1.WatchTokenResponse]) error {
	err := s.b.WatchToken(stream.Context(), req.GetPlugin(), tokenRequest(req.GetAudiences(), req.GetPublicKey(), req.GetTtlHint()), func(tok sdk.Token) error {
		return stream.Send(&brokerv1.WatchTokenResponse{Token: sdk.TokenToWire(tok)})
	})
	if stream.Context().Err() != nil {
		return nil
	}
	return toStatus(err)
}

func (s *Server) Verify(ctx context.Context, req *brokerv1.VerifyRequest) (*brokerv1.VerifyResponse, error) {
	vr := sdk.VerifyRequest{Token: req.GetToken(), Audiences: req.GetAudiences()}
	if req.GetAt() != nil {
		vr.At = req.GetAt().AsTime()
	}
	id, err := s.b.Verify(ctx, req.GetPlugin(), vr)
	return identityResponse(id, err)
}

func identityResponse(id sdk.Identity, err error) (*brokerv1.VerifyResponse, error) {
	if err != nil {
		return nil, toStatus(err)
	}
	wire, err := sdk.IdentityToWire(id)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &brokerv1.VerifyResponse{Identity: wire}, nil
}

func (s *Server) FetchX509SVID(ctx context.Context, req *brokerv1.FetchX509SVIDRequest) (*identityv1.FetchX509SVIDResponse, error) {
	svid, err := s.b.FetchX509SVID(ctx, req.GetPlugin())
	if err != nil {
		return nil, toStatus(err)
	}
	out, err := sdk.X509SVIDToWire(svid)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return out, nil
}

func (s *Server) VerifyX509(ctx context.Context, req *brokerv1.VerifyX509Request) (*brokerv1.VerifyResponse, error) {
	chain, err := sdk.ParseChain(req.GetCertChain())
	if err != nil {
		return nil, toStatus(sdk.Reject(sdk.ErrInvalid, "certificate chain: %v", err))
	}
	at := time.Now()
	if req.GetAt() != nil {
		at = req.GetAt().AsTime()
	}
	id, err := s.b.VerifyX509(ctx, req.GetPlugin(), chain, at)
	return identityResponse(id, err)
}

func (s *Server) WatchTrust(_ *brokerv1.WatchTrustRequest, stream grpc.ServerStreamingServer[brokerv1.WatchTrustResponse]) error {
	var sendErr error
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	s.b.WatchTrust(ctx, func(plugins []string) {
		if err := stream.Send(&brokerv1.WatchTrustResponse{Plugins: plugins}); err != nil {
			sendErr = err
			cancel()
		}
	})
	return sendErr
}

func (s *Server) ListPlugins(ctx context.Context, _ *brokerv1.ListPluginsRequest) (*brokerv1.ListPluginsResponse, error) {
	out := &brokerv1.ListPluginsResponse{}
	for _, p := range s.b.Plugins(ctx) {
		info := &brokerv1.PluginInfo{
			Name: p.Name, Type: p.Type, Path: p.Path, Sha256: p.SHA256, Version: p.Version,
			Capabilities: sdk.CapabilitiesToWire(p.Capabilities), Ready: p.Ready, Status: p.Message, Restarts: p.Restarts,
		}
		if !p.StartedAt.IsZero() {
			info.StartedAt = timestamppb.New(p.StartedAt)
		}
		out.Plugins = append(out.Plugins, info)
	}
	return out, nil
}

func (s *Server) Reload(ctx context.Context, _ *brokerv1.ReloadRequest) (*brokerv1.ReloadResponse, error) {
	if s.reload == nil {
		return nil, status.Error(codes.FailedPrecondition, "this broker runs without a configuration file; nothing to reload")
	}
	res, err := s.reload(ctx)
	if err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	return &brokerv1.ReloadResponse{Started: res.Started, Replaced: res.Replaced, Stopped: res.Stopped, Unchanged: res.Unchanged}, nil
}
