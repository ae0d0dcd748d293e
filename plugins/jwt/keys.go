package jwt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/slimid/slimid/sdk/jwtverify"
)

// maxKeyFileBytes bounds a key file.
const maxKeyFileBytes = 1 << 20

// algorithms the plugin signs and verifies with.
var algorithms = []jwa.SignatureAlgorithm{
	jwa.ES256, jwa.ES384, jwa.EdDSA,
	jwa.RS256, jwa.RS384, jwa.RS512, jwa.PS256, jwa.PS384, jwa.PS512,
	jwa.HS256, jwa.HS384, jwa.HS512,
}

// keySource is key material and how to read it. place names it in errors
// ("verifier.key").
type keySource struct {
	place     string
	file      string
	data      []byte
	format    string
	algorithm jwa.SignatureAlgorithm
}

func newKeySource(place string, kc KeyConfig) (keySource, error) {
	src := keySource{place: place, format: kc.Format}
	switch kc.Format {
	case "pem", "jwk", "jwks":
	case "":
		return src, fmt.Errorf("%s.format is required: pem, jwk or jwks", place)
	default:
		return src, fmt.Errorf("%s.format %q is not pem, jwk or jwks", place, kc.Format)
	}
	if kc.Algorithm != "" {
		alg := jwa.SignatureAlgorithm(kc.Algorithm)
		if !slices.Contains(algorithms, alg) {
			return src, fmt.Errorf("%s.algorithm %q is not one of ES256, ES384, EdDSA, RS256, RS384, RS512, PS256, PS384, PS512, HS256, HS384, HS512", place, kc.Algorithm)
		}
		src.algorithm = alg
	}
	if len(kc.Issuers) > 0 || kc.RefreshCooldown != nil {
		return src, fmt.Errorf("%s: issuers and refresh_cooldown belong to an autoresolve key only", place)
	}
	switch {
	case kc.Key == nil || (kc.Key.File == "" && kc.Key.Data == ""):
		return src, fmt.Errorf("%s.key needs file or data", place)
	case kc.Key.File != "" && kc.Key.Data != "":
		return src, fmt.Errorf("%s.key has both file and data; keep one", place)
	case kc.Key.File != "":
		src.file = kc.Key.File
	default:
		src.data = []byte(kc.Key.Data)
	}
	return src, nil
}

// read returns the material: the inline data or the file's bytes.
func (s keySource) read() ([]byte, error) {
	if s.file == "" {
		return s.data, nil
	}
	f, err := os.Open(s.file)
	if err != nil {
		return nil, fmt.Errorf("%s.key.file: %v", s.place, err)
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s.key.file %s is not a regular file", s.place, s.file)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, maxKeyFileBytes+1)); err != nil {
		return nil, fmt.Errorf("%s.key.file: %v", s.place, err)
	}
	if buf.Len() > maxKeyFileBytes {
		return nil, fmt.Errorf("%s.key.file %s is larger than %d bytes", s.place, s.file, maxKeyFileBytes)
	}
	return buf.Bytes(), nil
}

func (s keySource) isHMAC() bool {
	return strings.HasPrefix(string(s.algorithm), "HS")
}

// parse reads the material as a JWK set; with format pem and an HMAC
// algorithm the bytes are the secret itself, as in SLIM.
func (s keySource) parse(raw []byte) (jwk.Set, error) {
	if s.format == "pem" && s.isHMAC() {
		k, err := jwk.FromRaw(bytes.Clone(raw))
		if err != nil {
			return nil, fmt.Errorf("%s: %v", s.place, err)
		}
		set := jwk.NewSet()
		_ = set.AddKey(k)
		return set, nil
	}
	switch s.format {
	case "pem":
		set, err := jwk.Parse(raw, jwk.WithPEM(true))
		if err != nil || set.Len() == 0 {
			return nil, fmt.Errorf("%s is not a PEM key (for an HMAC secret set algorithm to HS256, HS384 or HS512)", s.place)
		}
		return set, nil
	case "jwk":
		k, err := jwk.ParseKey(raw)
		if err != nil {
			return nil, fmt.Errorf("%s is not a JWK: %v", s.place, err)
		}
		set := jwk.NewSet()
		_ = set.AddKey(k)
		return set, nil
	default:
		var probe struct {
			Keys json.RawMessage `json:"keys"`
		}
		if err := json.Unmarshal(raw, &probe); err != nil || probe.Keys == nil {
			return nil, fmt.Errorf("%s is not a JWKS (a JSON object with keys)", s.place)
		}
		set, err := jwk.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("%s is not a JWKS: %v", s.place, err)
		}
		return set, nil
	}
}

// pinAlgorithm gives k the configured algorithm, refusing a key that
// declares another one.
func (s keySource) pinAlgorithm(k jwk.Key, i int) error {
	declared := k.Algorithm().String()
	if s.algorithm == "" {
		return nil
	}
	if declared != "" && declared != s.algorithm.String() {
		return fmt.Errorf("%s: key %d (kid %q) declares alg %s, but %s.algorithm is %s", s.place, i, k.KeyID(), declared, s.place, s.algorithm)
	}
	return k.Set(jwk.AlgorithmKey, s.algorithm)
}

// loadVerificationKeys turns the source into a public JWKS document, with
// notes for what was changed on the way (private keys reduced to public).
func (s keySource) loadVerificationKeys() (doc []byte, notes []string, err error) {
	raw, err := s.read()
	if err != nil {
		return nil, nil, err
	}
	set, err := s.parse(raw)
	if err != nil {
		return nil, nil, err
	}
	// A JWKS with a pinned algorithm selects the keys that fit it: an
	// identity provider's JWKS often holds keys of several types.
	selecting := s.format == "jwks" && s.algorithm != ""
	out := jwk.NewSet()
	for i := range set.Len() {
		k, _ := set.Key(i)
		if priv, _ := jwk.IsPrivateKey(k); priv {
			pub, err := k.PublicKey()
			if err != nil {
				return nil, nil, fmt.Errorf("%s: key %d: %v", s.place, i, err)
			}
			notes = append(notes, fmt.Sprintf("%s: key %d is a private key; only its public part is used", s.place, i))
			k = pub
		}
		if err := s.pinAlgorithm(k, i); err != nil {
			if !selecting {
				return nil, nil, err
			}
			notes = append(notes, fmt.Sprintf("%v; skipped", err))
			continue
		}
		if selecting {
			if _, skipped, _ := jwtverify.UsableKeys(mustJWKS(k)); len(skipped) > 0 {
				// The reason, without its position in the one-key document.
				_, reason, _ := strings.Cut(skipped[0].Error(), "): ")
				notes = append(notes, fmt.Sprintf("%s: key %d (kid %q): %s; skipped", s.place, i, k.KeyID(), reason))
				continue
			}
		}
		_ = out.AddKey(k)
	}
	if out.Len() == 0 {
		return nil, nil, fmt.Errorf("%s: no key fits algorithm %s", s.place, s.algorithm)
	}
	doc, err = json.Marshal(out)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", s.place, err)
	}
	if err := checkKeys(s.place, doc); err != nil {
		return nil, nil, err
	}
	return doc, notes, nil
}

// mustJWKS is a one-key JWKS document.
func mustJWKS(k jwk.Key) []byte {
	set := jwk.NewSet()
	_ = set.AddKey(k)
	doc, _ := json.Marshal(set)
	return doc
}

// checkKeys applies the verifier's own key rules to doc, so a key the
// verifier would refuse is refused here, named by its place in the config.
func checkKeys(place string, doc []byte) error {
	_, skipped, err := jwtverify.UsableKeys(doc)
	if err != nil {
		return fmt.Errorf("%s: %v", place, err)
	}
	if len(skipped) > 0 {
		return fmt.Errorf("%s: %w", place, skipped[0])
	}
	return nil
}

// signingKey is a loaded private key (or HMAC secret) and its pinned
// algorithm.
type signingKey struct {
	alg    jwa.SignatureAlgorithm
	raw    any
	signer jws.Signer
}

// loadSigningKey reads the provider's key; a JWKS holding several keys needs
// kid to pick one.
func (s keySource) loadSigningKey(kid string) (*signingKey, error) {
	raw, err := s.read()
	if err != nil {
		return nil, err
	}
	set, err := s.parse(raw)
	if err != nil {
		return nil, err
	}
	k, err := pickKey(s.place, set, kid)
	if err != nil {
		return nil, err
	}
	if k.KeyType() != jwa.OctetSeq {
		if priv, _ := jwk.IsPrivateKey(k); !priv {
			return nil, fmt.Errorf("%s holds a public key; signing needs the private key", s.place)
		}
	}
	if err := s.pinAlgorithm(k, 0); err != nil {
		return nil, err
	}
	pub := k
	if k.KeyType() != jwa.OctetSeq {
		if pub, err = k.PublicKey(); err != nil {
			return nil, fmt.Errorf("%s: %v", s.place, err)
		}
	}
	doc, err := json.Marshal(map[string]any{"keys": []jwk.Key{pub}})
	if err != nil {
		return nil, fmt.Errorf("%s: %v", s.place, err)
	}
	if err := checkKeys(s.place, doc); err != nil {
		return nil, err
	}
	alg, err := algorithmOf(pub)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", s.place, err)
	}
	var rawKey any
	if err := k.Raw(&rawKey); err != nil {
		return nil, fmt.Errorf("%s: %v", s.place, err)
	}
	signer, err := jws.NewSigner(alg)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", s.place, err)
	}
	return &signingKey{alg: alg, raw: rawKey, signer: signer}, nil
}

func pickKey(place string, set jwk.Set, kid string) (jwk.Key, error) {
	if set.Len() == 1 {
		k, _ := set.Key(0)
		return k, nil
	}
	if kid == "" {
		return nil, fmt.Errorf("%s holds %d keys; set kid to choose one", place, set.Len())
	}
	if k, ok := set.LookupKeyID(kid); ok {
		return k, nil
	}
	return nil, fmt.Errorf("%s holds no key with kid %q", place, kid)
}

// algorithmOf is the key's `alg`, or the one its type implies (the same
// derivation the verifier applies).
func algorithmOf(k jwk.Key) (jwa.SignatureAlgorithm, error) {
	if a := k.Algorithm().String(); a != "" {
		return jwa.SignatureAlgorithm(a), nil
	}
	switch k.KeyType() {
	case jwa.EC:
		var crv jwa.EllipticCurveAlgorithm
		if ec, ok := k.(jwk.ECDSAPublicKey); ok {
			crv = ec.Crv()
		}
		switch crv {
		case jwa.P256:
			return jwa.ES256, nil
		case jwa.P384:
			return jwa.ES384, nil
		case jwa.P521:
			return jwa.ES512, nil
		}
		return "", fmt.Errorf("EC curve %q is not supported", crv)
	case jwa.OKP:
		return jwa.EdDSA, nil
	case jwa.RSA:
		return jwa.RS256, nil
	case jwa.OctetSeq:
		return jwa.HS256, nil
	}
	return "", fmt.Errorf("key type %s is not supported", k.KeyType())
}
