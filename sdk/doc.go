// Package sdk is the contract between the slimid broker and its identity
// plugins, and everything a plugin author needs to write one.
//
// A plugin implements Plugin (Info, ValidateConfig, Configure) and any of the
// optional capabilities, each a small interface detected by type assertion:
// IdentityProvider (mint or fetch tokens), TokenWatcher (push rotated
// tokens), Verifier (check tokens), KeyPublisher (publish the keys and claim
// rules it trusts so the broker verifies in process), X509Provider (X.509
// SVIDs) and StatusReporter (readiness).
//
// A minimal verifying plugin, served as its own binary:
//
//	type Plugin struct{ cfg atomic.Pointer[Config] }
//
//	func (p *Plugin) Info() sdk.Info { return sdk.Info{Name: "example", Version: "1.0.0"} }
//
//	func (p *Plugin) ValidateConfig(_ context.Context, raw []byte) ([]string, error) {
//		var c Config
//		if err := pluginconf.Decode(raw, &c); err != nil {
//			return nil, sdk.InvalidConfig("%v", err) // names the key and its line
//		}
//		return nil, c.validate()
//	}
//
//	func (p *Plugin) Configure(ctx context.Context, raw []byte) ([]string, error) {
//		... validate as above, then p.cfg.Store(&c): swapped atomically
//	}
//
//	func (p *Plugin) Verify(_ context.Context, req sdk.VerifyRequest) (sdk.Identity, error) {
//		...
//		if expired {
//			return sdk.Identity{}, sdk.Reject(sdk.ErrExpired, "token expired %s ago", ago)
//		}
//		if sourceDown {
//			return sdk.Identity{}, sdk.Unavailable("issuer unreachable: %v", err)
//		}
//		return sdk.Identity{Subject: sub, ExpiresAt: exp, PublicKey: key}, nil
//	}
//
//	func main() { sdk.Serve(&Plugin{}) }
//
// Errors keep a verdict apart from an outage across the wire: sdk.Reject
// builds a verdict (errors.Is(err, sdk.ErrRejected) on the host, with its
// reason such as sdk.ErrExpired), sdk.Unavailable an outage, and anything the
// host cannot classify is an outage too, never an accept. Calls made before
// Configure fail with sdk.ErrNotConfigured without reaching the plugin.
//
// Built-in plugins and external binaries take one path: ServeInProcess serves
// a plugin over an in-memory gRPC pipe and Launch starts a binary through
// go-plugin with mutual TLS and a pinned sha256; both hand back a Client that
// speaks the same protocol with the same error mapping. The conformance kit
// in sdk/sdktest runs every check both ways; run it from your plugin's tests.
//
// Tokens of the JWT family are verified with sdk/jwtverify, by the plugin and
// by the broker alike, against what the plugin publishes through WatchKeys.
package sdk
