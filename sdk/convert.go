package sdk

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"time"

	identityv1 "github.com/slimid/slimid/sdk/proto/identity/v1"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// These convert between the Go types plugin authors use and the wire types.

var capToWire = map[Capability]identityv1.Capability{
	CapFetchToken: identityv1.Capability_CAPABILITY_FETCH_TOKEN,
	CapWatchToken: identityv1.Capability_CAPABILITY_WATCH_TOKEN,
	CapVerify:     identityv1.Capability_CAPABILITY_VERIFY,
	CapWatchKeys:  identityv1.Capability_CAPABILITY_WATCH_KEYS,
	CapX509:       identityv1.Capability_CAPABILITY_X509,
	CapStatus:     identityv1.Capability_CAPABILITY_STATUS,
}

// CapabilitiesToWire converts capabilities to their wire enum.
func CapabilitiesToWire(caps []Capability) []identityv1.Capability {
	out := make([]identityv1.Capability, 0, len(caps))
	for _, c := range caps {
		if w, ok := capToWire[c]; ok {
			out = append(out, w)
		}
	}
	return out
}

// CapabilitiesFromWire converts wire capabilities, dropping unknown ones.
func CapabilitiesFromWire(caps []identityv1.Capability) []Capability {
	out := make([]Capability, 0, len(caps))
	for _, w := range caps {
		for c, cw := range capToWire {
			if cw == w {
				out = append(out, c)
			}
		}
	}
	return out
}

func timeToWire(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func timeFromWire(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

func durationToWire(d time.Duration) *durationpb.Duration {
	if d == 0 {
		return nil
	}
	return durationpb.New(d)
}

func durationFromWire(d *durationpb.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.AsDuration()
}

// TokenRequestToWire converts a TokenRequest.
func TokenRequestToWire(r TokenRequest) *identityv1.FetchTokenRequest {
	return &identityv1.FetchTokenRequest{Audiences: r.Audiences, PublicKey: r.PublicKey, TtlHint: durationToWire(r.TTLHint)}
}

// TokenRequestFromWire converts a FetchTokenRequest.
func TokenRequestFromWire(r *identityv1.FetchTokenRequest) TokenRequest {
	return TokenRequest{Audiences: r.GetAudiences(), PublicKey: r.GetPublicKey(), TTLHint: durationFromWire(r.GetTtlHint())}
}

// TokenToWire converts a Token.
func TokenToWire(t Token) *identityv1.Token {
	return &identityv1.Token{Value: t.Value, Subject: t.Subject, IssuedAt: timeToWire(t.IssuedAt), ExpiresAt: timeToWire(t.ExpiresAt)}
}

// TokenFromWire converts a wire Token.
func TokenFromWire(t *identityv1.Token) Token {
	return Token{Value: t.GetValue(), Subject: t.GetSubject(), IssuedAt: timeFromWire(t.GetIssuedAt()), ExpiresAt: timeFromWire(t.GetExpiresAt())}
}

// IdentityToWire converts an Identity; claims travel as JSON.
func IdentityToWire(id Identity) (*identityv1.Identity, error) {
	var claims []byte
	if len(id.Claims) > 0 {
		var err error
		if claims, err = json.Marshal(id.Claims); err != nil {
			return nil, fmt.Errorf("encode claims: %w", err)
		}
	}
	return &identityv1.Identity{
		Subject:    id.Subject,
		Issuer:     id.Issuer,
		Audiences:  id.Audiences,
		IssuedAt:   timeToWire(id.IssuedAt),
		ExpiresAt:  timeToWire(id.ExpiresAt),
		PublicKey:  id.PublicKey,
		ClaimsJson: claims,
		Provider:   id.Provider,
		SingleUse:  id.SingleUse,
	}, nil
}

// IdentityFromWire converts a wire Identity.
func IdentityFromWire(w *identityv1.Identity) (Identity, error) {
	id := Identity{
		Subject:   w.GetSubject(),
		Issuer:    w.GetIssuer(),
		Audiences: w.GetAudiences(),
		IssuedAt:  timeFromWire(w.GetIssuedAt()),
		ExpiresAt: timeFromWire(w.GetExpiresAt()),
		PublicKey: w.GetPublicKey(),
		Provider:  w.GetProvider(),
		SingleUse: w.GetSingleUse(),
	}
	if len(w.GetClaimsJson()) > 0 {
		if err := json.Unmarshal(w.GetClaimsJson(), &id.Claims); err != nil {
			return Identity{}, fmt.Errorf("decode claims: %w", err)
		}
	}
	return id, nil
}

// KeySnapshotToWire converts a KeySnapshot.
func KeySnapshotToWire(s KeySnapshot) *identityv1.KeySnapshot {
	out := &identityv1.KeySnapshot{Generation: s.Generation}
	for _, ks := range s.KeySets {
		r := ks.Rules
		rules := &identityv1.ClaimRules{
			Issuers:            r.Issuers,
			Audiences:          r.Audiences,
			Leeway:             durationToWire(r.Leeway),
			RequireKid:         r.RequireKID,
			SpiffeTrustDomain:  r.SPIFFETrustDomain,
			SlimClaimsAudience: r.SlimClaimsAudience,
			SubjectPatterns:    r.SubjectPatterns,
			MaxTokenBytes:      int64(r.MaxTokenBytes),
		}
		for _, c := range r.RequiredClaims {
			rules.RequiredClaims = append(rules.RequiredClaims, &identityv1.ClaimCondition{Claim: c.Claim, AnyOf: c.AnyOf})
		}
		out.KeySets = append(out.KeySets, &identityv1.KeySet{Name: ks.Name, Jwks: ks.JWKS, Rules: rules})
	}
	return out
}

// KeySnapshotFromWire converts a wire KeySnapshot.
func KeySnapshotFromWire(w *identityv1.KeySnapshot) KeySnapshot {
	out := KeySnapshot{Generation: w.GetGeneration()}
	for _, ks := range w.GetKeySets() {
		r := ks.GetRules()
		rules := ClaimRules{
			Issuers:            r.GetIssuers(),
			Audiences:          r.GetAudiences(),
			Leeway:             durationFromWire(r.GetLeeway()),
			RequireKID:         r.GetRequireKid(),
			SPIFFETrustDomain:  r.GetSpiffeTrustDomain(),
			SlimClaimsAudience: r.GetSlimClaimsAudience(),
			SubjectPatterns:    r.GetSubjectPatterns(),
			MaxTokenBytes:      int(r.GetMaxTokenBytes()),
		}
		for _, c := range r.GetRequiredClaims() {
			rules.RequiredClaims = append(rules.RequiredClaims, ClaimCondition{Claim: c.GetClaim(), AnyOf: c.GetAnyOf()})
		}
		out.KeySets = append(out.KeySets, KeySet{Name: ks.GetName(), JWKS: ks.GetJwks(), Rules: rules})
	}
	return out
}

// X509SVIDToWire converts an X509SVID; the key travels as PKCS#8.
func X509SVIDToWire(s X509SVID) (*identityv1.FetchX509SVIDResponse, error) {
	key, err := x509.MarshalPKCS8PrivateKey(s.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("encode SVID key: %w", err)
	}
	out := &identityv1.FetchX509SVIDResponse{PrivateKey: key, Bundles: map[string]*identityv1.CertificateList{}}
	for _, c := range s.Chain {
		out.CertChain = append(out.CertChain, c.Raw)
	}
	for td, certs := range s.Bundles {
		list := &identityv1.CertificateList{}
		for _, c := range certs {
			list.Certificates = append(list.Certificates, c.Raw)
		}
		out.Bundles[td] = list
	}
	return out, nil
}

// X509SVIDFromWire converts a wire X.509-SVID, parsing every certificate.
func X509SVIDFromWire(w *identityv1.FetchX509SVIDResponse) (X509SVID, error) {
	chain, err := ParseChain(w.GetCertChain())
	if err != nil {
		return X509SVID{}, err
	}
	if len(chain) == 0 {
		return X509SVID{}, fmt.Errorf("X.509-SVID without certificates")
	}
	key, err := x509.ParsePKCS8PrivateKey(w.GetPrivateKey())
	if err != nil {
		return X509SVID{}, fmt.Errorf("parse SVID key: %v", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return X509SVID{}, fmt.Errorf("SVID key of type %T cannot sign", key)
	}
	if !publicKeysEqual(signer.Public(), chain[0].PublicKey) {
		return X509SVID{}, fmt.Errorf("the X.509-SVID's key does not match its leaf certificate")
	}
	s := X509SVID{Chain: chain, PrivateKey: signer, Bundles: map[string][]*x509.Certificate{}}
	for td, list := range w.GetBundles() {
		certs, err := ParseChain(list.GetCertificates())
		if err != nil {
			return X509SVID{}, fmt.Errorf("bundle %q: %w", td, err)
		}
		s.Bundles[td] = certs
	}
	return s, nil
}

// ParseChain parses DER certificates.
func ParseChain(ders [][]byte) ([]*x509.Certificate, error) {
	out := make([]*x509.Certificate, 0, len(ders))
	for i, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v", i, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// publicKeysEqual compares public keys of the standard library's types.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}
