package spiffehelper

import (
	"errors"
	"fmt"
	"time"

	"github.com/slimid/slimid/sdk"
	"github.com/slimid/slimid/sdk/jwtverify"
)

// token is a JWT-SVID read from jwt_svid.token and checked against key.jwt.
type token struct {
	value string
	// id is what Verify reports for it.
	id sdk.Identity
}

func (t *token) asToken() sdk.Token {
	return sdk.Token{Value: t.value, Subject: t.id.Subject, IssuedAt: t.id.IssuedAt, ExpiresAt: t.id.ExpiresAt}
}

// live reports whether t exists and has not expired at now.
func (t *token) live(now time.Time) bool { return t != nil && now.Before(t.id.ExpiresAt) }

// olderThan reports whether t was issued before o (by iat, or by exp when a
// token has no iat).
func (t *token) olderThan(o *token) bool {
	a, b := t.id.IssuedAt, o.id.IssuedAt
	if !a.IsZero() && !b.IsZero() && !a.Equal(b) {
		return a.Before(b)
	}
	return t.id.ExpiresAt.Before(o.id.ExpiresAt)
}

// checkToken takes the bytes of jwt_svid.token only if they hold a whole
// JWT-SVID signed by a key in key.jwt, unexpired at now, and not older than
// cur. A half-written file fails here: its signature cannot check out.
func checkToken(data []byte, k *keys, cur *token, now time.Time) (*token, error) {
	value, err := ParseTokenFile(data)
	if err != nil {
		return nil, err
	}
	id, err := verifyOwn(value, k, now)
	if err != nil {
		return nil, err
	}
	t := &token{value: value, id: id}
	if cur != nil && t.olderThan(cur) {
		return nil, fmt.Errorf("jwt_svid.token was issued at %s, before the token in use (%s): a stale write is not taken",
			stamp(id.IssuedAt), stamp(cur.id.IssuedAt))
	}
	return t, nil
}

// verifyOwn checks the local token for the audiences it names: the plugin
// hands it out, it does not accept it from a peer.
func verifyOwn(value string, k *keys, now time.Time) (sdk.Identity, error) {
	if k == nil {
		return sdk.Identity{}, errors.New("jwt_svid.token cannot be checked yet: no usable key.jwt")
	}
	auds, err := ownAudiences(value)
	if err != nil {
		return sdk.Identity{}, err
	}
	id, err := k.verifier.Verify(value, auds, now)
	if errors.Is(err, jwtverify.ErrUndecided) {
		return sdk.Identity{}, fmt.Errorf("jwt_svid.token is not signed by a key in key.jwt (%v)", err)
	}
	if err != nil {
		return sdk.Identity{}, fmt.Errorf("jwt_svid.token: %v", err)
	}
	if !now.Before(id.ExpiresAt) {
		return sdk.Identity{}, fmt.Errorf("jwt_svid.token expired at %s", stamp(id.ExpiresAt))
	}
	return id, nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "an unknown time"
	}
	return t.UTC().Format(time.RFC3339)
}
