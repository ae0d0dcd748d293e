package sdk

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"

	identityv1 "github.com/slimid/slimid/sdk/proto/identity/v1"
	"google.golang.org/grpc"
)

// RegisterServer serves p on s as the IdentityPlugin service. Built-in and
// external plugins both go through it.
func RegisterServer(s grpc.ServiceRegistrar, p Plugin, log *slog.Logger) {
	identityv1.RegisterIdentityPluginServer(s, NewServer(p, log))
}

// NewServer adapts p to the gRPC service. It refuses every call but Info and
// ValidateConfig until Configure has succeeded, and turns a panic in the
// plugin into an outage instead of a crash.
func NewServer(p Plugin, log *slog.Logger) identityv1.IdentityPluginServer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &server{p: p, log: log}
}

type server struct {
	identityv1.UnimplementedIdentityPluginServer
	p          Plugin
	log        *slog.Logger
	configured atomic.Bool
}

var _ identityv1.IdentityPluginServer = (*server)(nil)

// guard runs fn, mapping its error to a status and a panic to an outage.
func (s *server) guard(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("plugin panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = ToStatus(Unavailable("plugin panicked: %v", r))
		}
	}()
	return ToStatus(fn())
}

func (s *server) ready() error {
	if !s.configured.Load() {
		return ErrNotConfigured
	}
	return nil
}

func (s *server) Info(ctx context.Context, _ *identityv1.InfoRequest) (*identityv1.InfoResponse, error) {
	var out *identityv1.InfoResponse
	err := s.guard(func() error {
		info := s.p.Info()
		out = &identityv1.InfoResponse{Name: info.Name, Version: info.Version, Capabilities: CapabilitiesToWire(CapabilitiesOf(s.p))}
		return nil
	})
	return out, err
}

func (s *server) ValidateConfig(ctx context.Context, req *identityv1.ValidateConfigRequest) (*identityv1.ValidateConfigResponse, error) {
	var out *identityv1.ValidateConfigResponse
	err := s.guard(func() error {
		notes, err := s.p.ValidateConfig(ctx, req.GetConfig())
		out = &identityv1.ValidateConfigResponse{Notes: notes}
		return err
	})
	return out, err
}

func (s *server) Configure(ctx context.Context, req *identityv1.ConfigureRequest) (*identityv1.ConfigureResponse, error) {
	var out *identityv1.ConfigureResponse
	err := s.guard(func() error {
		notes, err := s.p.Configure(ctx, req.GetConfig())
		if err != nil {
			return err
		}
		s.configured.Store(true)
		out = &identityv1.ConfigureResponse{Notes: notes}
		return nil
	})
	return out, err
}

func (s *server) Status(ctx context.Context, _ *identityv1.StatusRequest) (*identityv1.StatusResponse, error) {
	if !s.configured.Load() {
		return &identityv1.StatusResponse{Ready: false, Message: "not configured"}, nil
	}
	out := &identityv1.StatusResponse{Ready: true, Message: "serving"}
	err := s.guard(func() error {
		if r, ok := s.p.(StatusReporter); ok {
			st := r.Status(ctx)
			out = &identityv1.StatusResponse{Ready: st.Ready, Message: st.Message, TokenIssuedAt: timeToWire(st.TokenIssuedAt), TokenExpiresAt: timeToWire(st.TokenExpiresAt)}
		}
		return nil
	})
	return out, err
}

func (s *server) FetchToken(ctx context.Context, req *identityv1.FetchTokenRequest) (*identityv1.FetchTokenResponse, error) {
	var out *identityv1.FetchTokenResponse
	err := s.guard(func() error {
		p, ok := s.p.(IdentityProvider)
		if !ok {
			return fmt.Errorf("%w: FetchToken", ErrUnsupported)
		}
		if err := s.ready(); err != nil {
			return err
		}
		tok, err := p.FetchToken(ctx, TokenRequestFromWire(req))
		if err != nil {
			return err
		}
		out = &identityv1.FetchTokenResponse{Token: TokenToWire(tok)}
		return nil
	})
	return out, err
}

func (s *server) WatchToken(req *identityv1.WatchTokenRequest, stream grpc.ServerStreamingServer[identityv1.WatchTokenResponse]) error {
	return s.guard(func() error {
		w, ok := s.p.(TokenWatcher)
		if !ok {
			return fmt.Errorf("%w: WatchToken", ErrUnsupported)
		}
		if err := s.ready(); err != nil {
			return err
		}
		return w.WatchToken(stream.Context(), TokenRequestFromWire(req.GetRequest()), func(t Token) error {
			return stream.Send(&identityv1.WatchTokenResponse{Token: TokenToWire(t)})
		})
	})
}

func (s *server) Verify(ctx context.Context, req *identityv1.VerifyRequest) (*identityv1.VerifyResponse, error) {
	var out *identityv1.VerifyResponse
	err := s.guard(func() error {
		v, ok := s.p.(Verifier)
		if !ok {
			return fmt.Errorf("%w: Verify", ErrUnsupported)
		}
		if err := s.ready(); err != nil {
			return err
		}
		id, err := v.Verify(ctx, VerifyRequest{Token: req.GetToken(), Audiences: req.GetAudiences(), At: timeFromWire(req.GetAt())})
		out, err = verifyResponse(id, err)
		return err
	})
	return out, err
}

func (s *server) WatchKeys(_ *identityv1.WatchKeysRequest, stream grpc.ServerStreamingServer[identityv1.WatchKeysResponse]) error {
	return s.guard(func() error {
		kp, ok := s.p.(KeyPublisher)
		if !ok {
			return fmt.Errorf("%w: WatchKeys", ErrUnsupported)
		}
		if err := s.ready(); err != nil {
			return err
		}
		return kp.WatchKeys(stream.Context(), func(snap KeySnapshot) error {
			return stream.Send(&identityv1.WatchKeysResponse{Snapshot: KeySnapshotToWire(snap)})
		})
	})
}

func (s *server) FetchX509SVID(ctx context.Context, _ *identityv1.FetchX509SVIDRequest) (*identityv1.FetchX509SVIDResponse, error) {
	var out *identityv1.FetchX509SVIDResponse
	err := s.guard(func() error {
		xp, ok := s.p.(X509Provider)
		if !ok {
			return fmt.Errorf("%w: FetchX509SVID", ErrUnsupported)
		}
		if err := s.ready(); err != nil {
			return err
		}
		svid, err := xp.FetchX509SVID(ctx)
		if err != nil {
			return err
		}
		out, err = X509SVIDToWire(svid)
		return err
	})
	return out, err
}

func (s *server) VerifyX509(ctx context.Context, req *identityv1.VerifyX509Request) (*identityv1.VerifyResponse, error) {
	var out *identityv1.VerifyResponse
	err := s.guard(func() error {
		xp, ok := s.p.(X509Provider)
		if !ok {
			return fmt.Errorf("%w: VerifyX509", ErrUnsupported)
		}
		if err := s.ready(); err != nil {
			return err
		}
		chain, err := ParseChain(req.GetCertChain())
		if err != nil {
			return Reject(ErrInvalid, "certificate chain: %v", err)
		}
		at := timeFromWire(req.GetAt())
		if at.IsZero() {
			at = time.Now()
		}
		id, err := xp.VerifyX509(ctx, chain, at)
		out, err = verifyResponse(id, err)
		return err
	})
	return out, err
}

// verifyResponse wraps a plugin's verdict for the wire.
func verifyResponse(id Identity, err error) (*identityv1.VerifyResponse, error) {
	if err != nil {
		return nil, err
	}
	wire, err := IdentityToWire(id)
	if err != nil {
		return nil, err
	}
	return &identityv1.VerifyResponse{Identity: wire}, nil
}
