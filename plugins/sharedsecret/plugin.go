package sharedsecret

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/slimid/slimid/sdk"
)

// Name is the plugin's type name in slimid's configuration.
const Name = "shared_secret"

// Version of the plugin.
const Version = "1.0.0"

// Plugin mints and verifies SLIM shared-secret tokens.
type Plugin struct {
	state atomic.Pointer[state]
	log   atomic.Pointer[slog.Logger]
	// now is the clock; tests replace it.
	now func() time.Time
}

// state is one applied configuration; swapped whole on reconfiguration.
type state struct {
	settings
	id     string
	replay *replayCache
}

var (
	_ sdk.Plugin           = (*Plugin)(nil)
	_ sdk.IdentityProvider = (*Plugin)(nil)
	_ sdk.Verifier         = (*Plugin)(nil)
	_ sdk.LoggerSetter     = (*Plugin)(nil)
)

// New returns an unconfigured plugin.
func New() *Plugin {
	p := &Plugin{now: time.Now}
	p.log.Store(slog.New(slog.DiscardHandler))
	return p
}

// Info names the plugin.
func (p *Plugin) Info() sdk.Info { return sdk.Info{Name: Name, Version: Version} }

// SetLogger sets the logger.
func (p *Plugin) SetLogger(l *slog.Logger) { p.log.Store(l) }

// ValidateConfig checks a configuration without applying it.
func (p *Plugin) ValidateConfig(_ context.Context, raw []byte) ([]string, error) {
	_, notes, err := parseConfig(raw)
	return notes, err
}

// Configure applies a configuration. The identity gets a fresh random suffix
// unless random_suffix is false.
func (p *Plugin) Configure(_ context.Context, raw []byte) ([]string, error) {
	s, notes, err := parseConfig(raw)
	if err != nil {
		return nil, err
	}
	st := &state{settings: s, id: s.baseID}
	switch {
	case s.suffix != "":
		st.id = s.baseID + "_" + s.suffix
	case s.suffixFile != "":
		suffix, err := keepSuffix(s.suffixFile)
		if err != nil {
			return nil, err
		}
		st.id = s.baseID + "_" + suffix
	case s.randomSuffix:
		st.id = s.baseID + "_" + randomAlphanumeric(8)
	}
	if s.replay {
		st.replay = newReplayCache(s.replayMax, int64(s.validity/time.Second))
	}
	p.state.Store(st)
	p.log.Load().Info("configured", "id", st.id, "validity_window", s.validity, "replay_cache", s.replay)
	return notes, nil
}

func (p *Plugin) current() (*state, error) {
	st := p.state.Load()
	if st == nil {
		return nil, sdk.ErrNotConfigured
	}
	return st, nil
}

// FetchToken mints a fresh token. Audiences and the public key become the
// `aud` and `pubkey` claims.
func (p *Plugin) FetchToken(_ context.Context, req sdk.TokenRequest) (sdk.Token, error) {
	st, err := p.current()
	if err != nil {
		return sdk.Token{}, err
	}
	if len(req.PublicKey) > MaxPublicKeyBytes {
		return sdk.Token{}, sdk.InvalidConfig("public key to bind is %d bytes; MLS signature keys are at most %d", len(req.PublicKey), MaxPublicKeyBytes)
	}
	claims := make(map[string]any, len(st.claims)+2)
	for k, v := range st.claims {
		claims[k] = v
	}
	if len(req.PublicKey) > 0 {
		claims["pubkey"] = base64.StdEncoding.EncodeToString(req.PublicKey)
	}
	if len(req.Audiences) > 0 {
		claims["aud"] = req.Audiences
	}
	nonce := make([]byte, nonceBytes)
	_, _ = rand.Read(nonce)
	now := p.now().Truncate(time.Second)
	value, err := mint(st.secret, st.id, now, nonce, claims)
	if err != nil {
		return sdk.Token{}, err
	}
	if len(value) > MaxTokenBytes {
		// Never hand out a token that Verify would refuse.
		return sdk.Token{}, sdk.InvalidConfig("the token would be %d bytes, more than the %d allowed: fewer or shorter audiences or claims", len(value), MaxTokenBytes)
	}
	return sdk.Token{Value: value, Subject: st.id, IssuedAt: now, ExpiresAt: now.Add(st.validity)}, nil
}

// Verify checks a token's MAC, age and audience, and (with the replay cache)
// that it was not used before.
func (p *Plugin) Verify(_ context.Context, req sdk.VerifyRequest) (sdk.Identity, error) {
	st, err := p.current()
	if err != nil {
		return sdk.Identity{}, err
	}
	tok, err := parse(req.Token)
	if err != nil {
		return sdk.Identity{}, err
	}
	if !hmac.Equal(computeMAC(st.secret, tok.signed), tok.mac) {
		return sdk.Identity{}, sdk.Reject(sdk.ErrInvalid, "shared-secret token: MAC does not match (another secret, or the token was altered)")
	}
	at := req.At
	if at.IsZero() {
		at = p.now()
	}
	now := at.Unix()
	window := int64(st.validity / time.Second)
	skew := int64(st.skew / time.Second)
	if tok.issuedAt > now && tok.issuedAt-now > skew {
		return sdk.Identity{}, sdk.Reject(sdk.ErrNotYetValid, "shared-secret token is dated %ds in the future (clock skew allowed: %ds)", tok.issuedAt-now, skew)
	}
	if now-tok.issuedAt > window {
		return sdk.Identity{}, sdk.Reject(sdk.ErrExpired, "shared-secret token expired %ds ago (validity window %ds)", now-tok.issuedAt-window, window)
	}
	claims, err := decodeClaims(tok.claims)
	if err != nil {
		return sdk.Identity{}, sdk.Reject(sdk.ErrInvalid, "shared-secret token: %v", err)
	}
	id := sdk.Identity{
		Subject:   tok.id,
		IssuedAt:  time.Unix(tok.issuedAt, 0),
		ExpiresAt: time.Unix(tok.issuedAt+window, 0),
		Claims:    claims,
		SingleUse: st.replay != nil,
	}
	if id.PublicKey, err = publicKeyClaim(claims); err != nil {
		return sdk.Identity{}, err
	}
	if id.Audiences, err = audienceClaim(claims); err != nil {
		return sdk.Identity{}, err
	}
	if len(req.Audiences) > 0 && !slices.ContainsFunc(id.Audiences, func(a string) bool { return slices.Contains(req.Audiences, a) }) {
		if len(id.Audiences) == 0 {
			return sdk.Identity{}, sdk.Reject(sdk.ErrAudience, "shared-secret token names no audience; expected one of %q", req.Audiences)
		}
		return sdk.Identity{}, sdk.Reject(sdk.ErrAudience, "shared-secret token is for %q; expected one of %q", id.Audiences, req.Audiences)
	}
	claims["sub"] = tok.id
	claims["iat"] = tok.issuedAt
	claims["exp"] = tok.issuedAt + window
	if st.replay != nil {
		if err := st.replay.record(tok.nonce, tok.issuedAt, now); err != nil {
			return sdk.Identity{}, err
		}
	}
	return id, nil
}

// publicKeyClaim decodes the optional `pubkey` claim (standard base64).
func publicKeyClaim(claims map[string]any) ([]byte, error) {
	v, ok := claims["pubkey"]
	if !ok {
		return nil, nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, sdk.Reject(sdk.ErrInvalid, "shared-secret token: pubkey claim is not a string")
	}
	key, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(key) == 0 {
		return nil, sdk.Reject(sdk.ErrInvalid, "shared-secret token: pubkey claim is not standard base64")
	}
	return key, nil
}

// audienceClaim reads the optional `aud` claim: a string or an array of
// strings.
func audienceClaim(claims map[string]any) ([]string, error) {
	switch v := claims["aud"].(type) {
	case nil:
		if _, present := claims["aud"]; present {
			return nil, sdk.Reject(sdk.ErrInvalid, "shared-secret token: aud claim is null")
		}
		return nil, nil
	case string:
		return []string{v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, a := range v {
			s, ok := a.(string)
			if !ok {
				return nil, sdk.Reject(sdk.ErrInvalid, "shared-secret token: aud claim holds a non-string")
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return nil, sdk.Reject(sdk.ErrInvalid, "shared-secret token: aud claim is neither a string nor a list")
	}
}

const alphanumerics = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomAlphanumeric draws n characters uniformly (rejection sampling).
func randomAlphanumeric(n int) string {
	out := make([]byte, 0, n)
	buf := make([]byte, 1)
	for len(out) < n {
		_, _ = rand.Read(buf)
		if int(buf[0]) < 256-256%len(alphanumerics) {
			out = append(out, alphanumerics[int(buf[0])%len(alphanumerics)])
		}
	}
	return string(out)
}
