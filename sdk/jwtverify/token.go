package jwtverify

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/goccy/go-json"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/slimid/slimid/sdk"
)

// compact is a JWS in compact serialization, split but not yet trusted.
type compact struct {
	signingInput string // header "." payload, as signed
	header       header
	claims       map[string]any
	signature    []byte
}

// header holds the protected header fields the verifier acts on.
type header struct {
	alg    jwa.SignatureAlgorithm
	kid    string
	hasKID bool
}

// refusedHeaders name keys carried in or referenced by a token: the token
// would be choosing its own verification key.
var refusedHeaders = []string{"jwk", "jku", "x5u", "x5c"}

// splitCompact parses the three segments of a compact JWS. Anything else is
// not ours to judge (ErrUndecided); a JWS whose parts do not decode is a
// verdict.
func splitCompact(token string) (*compact, error) {
	first := strings.IndexByte(token, '.')
	if first < 0 {
		return nil, fmt.Errorf("%w: not a JWS compact token", ErrUndecided)
	}
	second := strings.IndexByte(token[first+1:], '.')
	if second < 0 {
		return nil, fmt.Errorf("%w: not a JWS compact token", ErrUndecided)
	}
	second += first + 1
	if strings.IndexByte(token[second+1:], '.') >= 0 {
		return nil, fmt.Errorf("%w: not a JWS compact token", ErrUndecided)
	}
	c := &compact{signingInput: token[:second]}
	h, err := parseHeader(token[:first])
	if err != nil {
		return nil, err
	}
	c.header = h
	if c.claims, err = decodeClaims(token[first+1 : second]); err != nil {
		return nil, err
	}
	if c.signature, err = b64url.DecodeString(token[second+1:]); err != nil {
		return nil, sdk.Reject(sdk.ErrInvalid, "token signature is not base64url: %v", err)
	}
	if len(c.signature) == 0 {
		return nil, sdk.Reject(sdk.ErrInvalid, "token has no signature")
	}
	return c, nil
}

// parseHeader decodes the protected header and refuses what must never be
// honoured. Header names are matched exactly, as RFC 7515 requires.
func parseHeader(seg string) (header, error) {
	raw, err := b64url.DecodeString(seg)
	if err != nil {
		return header{}, sdk.Reject(sdk.ErrInvalid, "token header is not base64url: %v", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return header{}, sdk.Reject(sdk.ErrInvalid, "token header is not a JSON object")
	}
	var h header
	var alg string
	if err := stringField(fields, "alg", &alg); err != nil {
		return header{}, err
	}
	switch {
	case alg == "":
		return header{}, sdk.Reject(sdk.ErrInvalid, "token header has no alg")
	case strings.EqualFold(alg, "none"):
		return header{}, sdk.Reject(sdk.ErrInvalid, "alg none is refused: tokens must be signed")
	}
	h.alg = jwa.SignatureAlgorithm(alg)
	if _, h.hasKID = fields["kid"]; h.hasKID {
		if err := stringField(fields, "kid", &h.kid); err != nil {
			return header{}, err
		}
	}
	for _, name := range refusedHeaders {
		if _, ok := fields[name]; ok {
			return header{}, sdk.Reject(sdk.ErrInvalid, "header %q is refused: keys carried in or referenced by a token are never trusted", name)
		}
	}
	if crit, ok := fields["crit"]; ok {
		return header{}, sdk.Reject(sdk.ErrInvalid, "crit header %s names extensions this verifier does not understand", oneLineJSON(crit))
	}
	if _, ok := fields["b64"]; ok {
		return header{}, sdk.Reject(sdk.ErrInvalid, "header \"b64\" is refused: unencoded payloads are not supported")
	}
	return h, nil
}

func stringField(fields map[string]json.RawMessage, name string, out *string) error {
	raw, ok := fields[name]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return sdk.Reject(sdk.ErrInvalid, "token header %q is not a string", name)
	}
	return nil
}

// decodeClaims decodes the payload: one pass into a map, which is also what
// the identity reports.
func decodeClaims(seg string) (map[string]any, error) {
	raw, err := b64url.DecodeString(seg)
	if err != nil {
		return nil, sdk.Reject(sdk.ErrInvalid, "token payload is not base64url: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil || claims == nil {
		return nil, sdk.Reject(sdk.ErrInvalid, "token payload is not a JSON object")
	}
	return claims, nil
}

// oneLineJSON shows a short JSON value in an error message.
func oneLineJSON(raw json.RawMessage) string {
	s := strings.Join(strings.Fields(string(raw)), " ")
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return s
}

// b64url is strict: the unused bits of the last character must be zero, so
// one token has one encoding and cannot be altered without breaking it.
var b64url = base64.RawURLEncoding.Strict()
