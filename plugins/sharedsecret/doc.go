// Package sharedsecret is the identity plugin for SLIM's shared-secret
// tokens: `<id>:<unix_ts>:<nonce>:<claims>:<mac>`, an HMAC-SHA256 over the
// text before the last colon, keyed with a secret of at least 32 bytes.
// Tokens minted by SLIM verify here and the reverse.
//
// Configuration, in SLIM's shape:
//
//	id: org/ns/alice
//	data: "at-least-32-bytes-of-secret-material"
//	validity_window: 1h      # default
//	clock_skew: 5s           # default
//	replay_cache: {enabled: true, max_entries: 100000}
//
// A minted token carries the requested public key as the `pubkey` claim and
// the requested audiences as `aud`. Verify checks the MAC in constant time,
// then the timestamp against the validity window and the clock skew, then
// the audience; with the replay cache on, each token verifies once.
package sharedsecret
