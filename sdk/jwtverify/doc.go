// Package jwtverify is the one JWT verifier of slimid. It checks JWT-family
// tokens (JWTs, JWT-SVIDs) against a published key snapshot: the key sets a
// plugin sends through WatchKeys, each a JWKS plus the claim rules its tokens
// must satisfy.
//
// Every JWT-family plugin implements its own Verify by calling this package
// with the snapshot it publishes, and the broker calls it in process with the
// snapshots it receives, so both reach the same verdict.
//
// Compile a Verifier once per snapshot; it is immutable and safe for
// concurrent use:
//
//	v, err := jwtverify.New(sdk.KeySnapshot{
//		Generation: 1,
//		KeySets: []sdk.KeySet{{
//			Name:  "https://idp.example.com",
//			JWKS:  jwksBytes,
//			Rules: sdk.ClaimRules{Issuers: []string{"https://idp.example.com"}, Audiences: []string{"slim"}, Leeway: time.Minute},
//		}},
//	})
//	if err != nil {
//		return err // names the key set and the key that failed
//	}
//	id, err := v.Verify(token, nil, time.Now())
//	switch {
//	case errors.Is(err, jwtverify.ErrUndecided):
//		// Not ours to judge with these keys (unknown kid or issuer, not a
//		// JWS): ask the plugin, which may know more (a fresh JWKS).
//	case errors.Is(err, sdk.ErrRejected):
//		// A verdict: refuse the token; err says why in one line.
//	case err != nil:
//		// A configuration error (no expected audience): fail closed.
//	default:
//		use(id.Subject, id.PublicKey)
//	}
//
// What it refuses: tokens over the size cap (unread), segments that are not
// strict base64url (so a token has exactly one encoding), `alg: none`, an
// algorithm other than the one pinned by the key (so an HMAC signed with a
// public key's bytes never verifies), keys carried in or referenced by the
// token (`jwk`, `jku`, `x5u`, `x5c`), any `crit` header, a missing `exp`,
// expired or not-yet-valid tokens (`exp`, `nbf`, `iat` with the set's
// leeway), untrusted issuers or trust domains, audiences outside the expected
// ones, and subjects or claims the set's policy excludes. Keys are checked
// once in New: private keys, RSA under 2048 bits, HMAC secrets shorter than
// the hash and algorithms that do not fit the key are errors there.
//
// A key without a `kid` stands in for any kid its set does not know: SLIM
// puts the subject in `kid`, so a PEM key published without one still
// verifies SLIM's tokens. UsableKeys trims a JWKS fetched from an issuer to
// the keys New accepts.
package jwtverify
