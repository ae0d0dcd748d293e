// Package brokerclient talks to a running slimid broker over its unix
// socket. Errors come back as the sdk's sentinels: errors.Is(err,
// sdk.ErrRejected) for a refused token (with its reason, such as
// sdk.ErrExpired), sdk.ErrUnavailable for an outage.
//
//	c, err := brokerclient.Dial("/run/slimid/broker.sock")
//	if err != nil { ... }
//	defer c.Close()
//	tok, err := c.FetchToken(ctx, "team", sdk.TokenRequest{PublicKey: mlsKey})
//	id, err := c.Verify(ctx, "", sdk.VerifyRequest{Token: peerToken, Audiences: []string{"slim"}})
package brokerclient

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/slimid/slimid/sdk"
	brokerv1 "github.com/slimid/slimid/sdk/proto/broker/v1"
)

// Client is a connection to a broker.
type Client struct {
	conn *grpc.ClientConn
	rpc  brokerv1.BrokerClient
}

// Dial connects to the broker's unix socket. It does not wait for the
// broker: the first call fails as unavailable if nobody serves there.
func Dial(socket string) (*Client, error) {
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("broker at %s: %v", socket, err)
	}
	return &Client{conn: conn, rpc: brokerv1.NewBrokerClient(conn)}, nil
}

// Close ends the connection.
func (c *Client) Close() error { return c.conn.Close() }

func wrap(err error) error { return sdk.FromStatus(err, "broker") }

func ttl(req sdk.TokenRequest) *durationpb.Duration {
	if req.TTLHint == 0 {
		return nil
	}
	return durationpb.New(req.TTLHint)
}

// FetchToken asks the named plugin (or the only minting one) for a token.
func (c *Client) FetchToken(ctx context.Context, plugin string, req sdk.TokenRequest) (sdk.Token, error) {
	resp, err := c.rpc.FetchToken(ctx, &brokerv1.FetchTokenRequest{Plugin: plugin, Audiences: req.Audiences, PublicKey: req.PublicKey, TtlHint: ttl(req)})
	if err != nil {
		return sdk.Token{}, wrap(err)
	}
	return sdk.TokenFromWire(resp.GetToken()), nil
}

// WatchToken calls send with a token at once and a fresh one before each
// expiry, until ctx ends, send fails or the broker goes away.
func (c *Client) WatchToken(ctx context.Context, plugin string, req sdk.TokenRequest, send func(sdk.Token) error) error {
	stream, err := c.rpc.WatchToken(ctx, &brokerv1.WatchTokenRequest{Plugin: plugin, Audiences: req.Audiences, PublicKey: req.PublicKey, TtlHint: ttl(req)})
	if err != nil {
		return wrap(err)
	}
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return sdk.Unavailable("broker: token stream ended")
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return wrap(err)
		}
		if err := send(sdk.TokenFromWire(resp.GetToken())); err != nil {
			return err
		}
	}
}

// Verify checks a token with the named plugin, or with each in turn when
// plugin is empty, at req.At (zero: now).
func (c *Client) Verify(ctx context.Context, plugin string, req sdk.VerifyRequest) (sdk.Identity, error) {
	wire := &brokerv1.VerifyRequest{Plugin: plugin, Token: req.Token, Audiences: req.Audiences}
	if !req.At.IsZero() {
		wire.At = timestamppb.New(req.At)
	}
	resp, err := c.rpc.Verify(ctx, wire)
	return identity(resp, err)
}

func identity(resp *brokerv1.VerifyResponse, err error) (sdk.Identity, error) {
	if err != nil {
		return sdk.Identity{}, wrap(err)
	}
	id, err := sdk.IdentityFromWire(resp.GetIdentity())
	if err != nil {
		return sdk.Identity{}, sdk.Unavailable("broker: %v", err)
	}
	return id, nil
}

// FetchX509SVID returns the workload's X.509-SVID from the named plugin (or
// the only one with the x509 capability).
func (c *Client) FetchX509SVID(ctx context.Context, plugin string) (sdk.X509SVID, error) {
	resp, err := c.rpc.FetchX509SVID(ctx, &brokerv1.FetchX509SVIDRequest{Plugin: plugin})
	if err != nil {
		return sdk.X509SVID{}, wrap(err)
	}
	svid, err := sdk.X509SVIDFromWire(resp)
	if err != nil {
		return sdk.X509SVID{}, sdk.Unavailable("broker: %v", err)
	}
	return svid, nil
}

// VerifyX509 checks a certificate chain (leaf first) with the named plugin
// at time at (zero: now).
func (c *Client) VerifyX509(ctx context.Context, plugin string, chain []*x509.Certificate, at time.Time) (sdk.Identity, error) {
	req := &brokerv1.VerifyX509Request{Plugin: plugin}
	for _, cert := range chain {
		req.CertChain = append(req.CertChain, cert.Raw)
	}
	if !at.IsZero() {
		req.At = timestamppb.New(at)
	}
	resp, err := c.rpc.VerifyX509(ctx, req)
	return identity(resp, err)
}

// WatchTrust calls fn with the names of plugins whose trust changed, until
// ctx ends. If the stream breaks (the broker restarted), it reconnects with
// backoff and then calls fn(nil): changes may have been missed, so
// everything should be re-verified.
func (c *Client) WatchTrust(ctx context.Context, fn func(plugins []string)) {
	delay := 100 * time.Millisecond
	for broken := false; ctx.Err() == nil; broken = true {
		stream, err := c.rpc.WatchTrust(ctx, &brokerv1.WatchTrustRequest{}, grpc.WaitForReady(true))
		if err == nil {
			if broken {
				fn(nil)
			}
			for {
				resp, err := stream.Recv()
				if err != nil {
					break
				}
				delay = 100 * time.Millisecond
				fn(resp.GetPlugins())
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
		delay = min(2*delay, 10*time.Second)
	}
}

// Plugins lists the broker's plugins.
func (c *Client) Plugins(ctx context.Context) ([]*brokerv1.PluginInfo, error) {
	resp, err := c.rpc.ListPlugins(ctx, &brokerv1.ListPluginsRequest{})
	if err != nil {
		return nil, wrap(err)
	}
	return resp.GetPlugins(), nil
}

// Reload asks the broker to re-read its configuration.
func (c *Client) Reload(ctx context.Context) (*brokerv1.ReloadResponse, error) {
	resp, err := c.rpc.Reload(ctx, &brokerv1.ReloadRequest{})
	if err != nil {
		return nil, wrap(err)
	}
	return resp, nil
}
