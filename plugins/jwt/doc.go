// Package jwt is slimid's JWT identity plugin (type name "jwt"). It mints
// tokens the way SLIM's JWT provider does and verifies them, with static
// keys (PEM, JWK or JWKS, hot-reloaded from disk) or with keys resolved from
// allowed OpenID issuers. Verification goes through sdk/jwtverify with the
// very snapshot the plugin publishes through WatchKeys, so the broker's
// in-process check and the plugin's own Verify always agree.
//
// The broker creates it by type name and drives it over the plugin
// contract:
//
//	p := jwt.New()
//	if _, err := p.Configure(ctx, []byte(`
//	provider:
//	  claims: {issuer: corp-issuer, audience: [slim], subject: org/ns/alice}
//	  key: {type: encoding, format: pem, key: {file: ./keys/ec256.pem}}
//	verifier:
//	  claims: {issuer: corp-issuer, audience: [slim]}
//	  key: {type: decoding, format: jwks, key: {file: ./keys/members.jwks}}
//	`)); err != nil {
//		return err // one line naming the faulty key, e.g. verifier.claims.audience
//	}
//	tok, err := p.FetchToken(ctx, sdk.TokenRequest{PublicKey: leafKey})
//	...
//	id, err := p.Verify(ctx, sdk.VerifyRequest{Token: tok.Value})
//
// Built in, the broker serves it over an in-memory pipe with
// sdk.ServeInProcess; as an external binary it is cmd/slimid-plugin-jwt.
// Metrics (slimid_jwt_key_reload_errors_total,
// slimid_jwt_jwks_fetch_errors_total) go to prometheus.DefaultRegisterer,
// or to the registry given to NewWithOptions with WithRegisterer.
//
// README.md in this directory is the user's reference: every configuration
// field, examples, and what is refused and why.
package jwt
