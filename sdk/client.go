package sdk

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	identityv1 "github.com/slimid/slimid/sdk/proto/identity/v1"
	"google.golang.org/grpc"
)

// Client is the host's side of a plugin connection. It offers every
// capability; those the plugin lacks fail with ErrUnsupported. Errors come
// back as our sentinels, prefixed "plugin(NAME): ".
type Client struct {
	name   string
	prefix string
	rpc    identityv1.IdentityPluginClient
}

var (
	_ IdentityProvider = (*Client)(nil)
	_ TokenWatcher     = (*Client)(nil)
	_ Verifier         = (*Client)(nil)
	_ KeyPublisher     = (*Client)(nil)
	_ X509Provider     = (*Client)(nil)
)

// NewClient talks to a plugin over conn; name is the plugin entry's name.
func NewClient(conn grpc.ClientConnInterface, name string) *Client {
	return &Client{name: name, prefix: fmt.Sprintf("plugin(%s)", name), rpc: identityv1.NewIdentityPluginClient(conn)}
}

// Name is the plugin entry's name.
func (c *Client) Name() string { return c.name }

func (c *Client) wrap(err error) error { return FromStatus(err, c.prefix) }

// Info asks the plugin to describe itself.
func (c *Client) Info(ctx context.Context) (Info, error) {
	resp, err := c.rpc.Info(ctx, &identityv1.InfoRequest{})
	if err != nil {
		return Info{}, c.wrap(err)
	}
	return Info{Name: resp.GetName(), Version: resp.GetVersion(), Capabilities: CapabilitiesFromWire(resp.GetCapabilities())}, nil
}

// ValidateConfig checks config without applying it.
func (c *Client) ValidateConfig(ctx context.Context, config []byte) ([]string, error) {
	resp, err := c.rpc.ValidateConfig(ctx, &identityv1.ValidateConfigRequest{Config: config})
	if err != nil {
		return nil, c.wrap(err)
	}
	return resp.GetNotes(), nil
}

// Configure applies config.
func (c *Client) Configure(ctx context.Context, config []byte) ([]string, error) {
	resp, err := c.rpc.Configure(ctx, &identityv1.ConfigureRequest{Config: config})
	if err != nil {
		return nil, c.wrap(err)
	}
	return resp.GetNotes(), nil
}

// Status asks whether the plugin can serve. An error means it cannot answer
// at all.
func (c *Client) Status(ctx context.Context) (Status, error) {
	resp, err := c.rpc.Status(ctx, &identityv1.StatusRequest{})
	if err != nil {
		return Status{}, c.wrap(err)
	}
	return Status{
		Ready:          resp.GetReady(),
		Message:        resp.GetMessage(),
		TokenIssuedAt:  timeFromWire(resp.GetTokenIssuedAt()),
		TokenExpiresAt: timeFromWire(resp.GetTokenExpiresAt()),
	}, nil
}

// FetchToken asks for a token.
func (c *Client) FetchToken(ctx context.Context, req TokenRequest) (Token, error) {
	resp, err := c.rpc.FetchToken(ctx, TokenRequestToWire(req))
	if err != nil {
		return Token{}, c.wrap(err)
	}
	return TokenFromWire(resp.GetToken()), nil
}

// WatchToken calls send with each token the plugin pushes, until ctx ends,
// send fails or the stream breaks.
func (c *Client) WatchToken(ctx context.Context, req TokenRequest, send func(Token) error) error {
	stream, err := c.rpc.WatchToken(ctx, &identityv1.WatchTokenRequest{Request: TokenRequestToWire(req)})
	if err != nil {
		return c.wrap(err)
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			return c.streamEnd(ctx, err)
		}
		if err := send(TokenFromWire(resp.GetToken())); err != nil {
			return err
		}
	}
}

// Verify checks a token.
func (c *Client) Verify(ctx context.Context, req VerifyRequest) (Identity, error) {
	if !utf8.ValidString(req.Token) {
		// No valid token has invalid UTF-8, and gRPC cannot carry it.
		return Identity{}, Reject(ErrInvalid, "%s: token is not valid UTF-8", c.prefix)
	}
	resp, err := c.rpc.Verify(ctx, &identityv1.VerifyRequest{Token: req.Token, Audiences: req.Audiences, At: timeToWire(req.At)})
	if err != nil {
		return Identity{}, c.wrap(err)
	}
	return c.identity(resp)
}

func (c *Client) identity(resp *identityv1.VerifyResponse) (Identity, error) {
	if resp.GetIdentity() == nil {
		return Identity{}, Unavailable("%s: answer without an identity", c.prefix)
	}
	id, err := IdentityFromWire(resp.GetIdentity())
	if err != nil {
		return Identity{}, Unavailable("%s: %v", c.prefix, err)
	}
	return id, nil
}

// WatchKeys calls send with each key snapshot the plugin publishes.
func (c *Client) WatchKeys(ctx context.Context, send func(KeySnapshot) error) error {
	stream, err := c.rpc.WatchKeys(ctx, &identityv1.WatchKeysRequest{})
	if err != nil {
		return c.wrap(err)
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			return c.streamEnd(ctx, err)
		}
		if err := send(KeySnapshotFromWire(resp.GetSnapshot())); err != nil {
			return err
		}
	}
}

// streamEnd maps the end of a server stream: a plugin that closes its stream
// while the caller still listens has gone away.
func (c *Client) streamEnd(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, io.EOF) {
		return Unavailable("%s: stream ended", c.prefix)
	}
	return c.wrap(err)
}

// FetchX509SVID asks for the workload's X.509-SVID.
func (c *Client) FetchX509SVID(ctx context.Context) (X509SVID, error) {
	resp, err := c.rpc.FetchX509SVID(ctx, &identityv1.FetchX509SVIDRequest{})
	if err != nil {
		return X509SVID{}, c.wrap(err)
	}
	svid, err := X509SVIDFromWire(resp)
	if err != nil {
		return X509SVID{}, Unavailable("%s: %v", c.prefix, err)
	}
	return svid, nil
}

// VerifyX509 checks a certificate chain, leaf first.
func (c *Client) VerifyX509(ctx context.Context, chain []*x509.Certificate, at time.Time) (Identity, error) {
	req := &identityv1.VerifyX509Request{At: timeToWire(at)}
	for _, cert := range chain {
		req.CertChain = append(req.CertChain, cert.Raw)
	}
	resp, err := c.rpc.VerifyX509(ctx, req)
	if err != nil {
		return Identity{}, c.wrap(err)
	}
	return c.identity(resp)
}
