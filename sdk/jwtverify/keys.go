package jwtverify

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// minRSABits is the smallest RSA modulus accepted for verification.
const minRSABits = 2048

// errEncryptionKey marks a key meant for encryption (`use: enc`): it is left
// out of a key set rather than refused, since issuers publish both kinds.
var errEncryptionKey = errors.New("an encryption key (use: enc), not a signing key")

// key is one verification key, compiled once: its pinned algorithm, the
// jwx verifier for it and the raw public key (or HMAC secret).
type key struct {
	kid      string
	alg      jwa.SignatureAlgorithm
	verifier jws.Verifier
	raw      any
}

// compileKey turns one JWK into a verification key, pinning its algorithm.
func compileKey(k jwk.Key) (*key, error) {
	if k.KeyUsage() == "enc" {
		return nil, errEncryptionKey
	}
	var raw any
	if err := k.Raw(&raw); err != nil {
		return nil, fmt.Errorf("cannot read %s key material: %v", k.KeyType(), err)
	}
	derived, err := checkMaterial(k, raw)
	if err != nil {
		return nil, err
	}
	alg := derived
	if declared := k.Algorithm().String(); declared != "" {
		alg, err = declaredAlg(declared, k.KeyType())
		if err != nil {
			return nil, err
		}
		if !curveMatches(alg, raw) {
			return nil, fmt.Errorf("alg %s does not fit this key's curve (its algorithm is %s)", alg, derived)
		}
	}
	if len(rawSecret(raw)) > 0 && len(rawSecret(raw)) < hmacMinBytes(alg) {
		return nil, fmt.Errorf("%s secret is %d bytes; %s needs at least %d", k.KeyType(), len(rawSecret(raw)), alg, hmacMinBytes(alg))
	}
	v, err := jws.NewVerifier(alg)
	if err != nil {
		return nil, fmt.Errorf("no verifier for %s: %v", alg, err)
	}
	return &key{kid: k.KeyID(), alg: alg, verifier: v, raw: raw}, nil
}

// checkMaterial refuses private, malformed and weak keys and returns the
// algorithm the key type implies (RFC 7518 names one per curve; RSA and oct
// take the most common of theirs).
func checkMaterial(k jwk.Key, raw any) (jwa.SignatureAlgorithm, error) {
	switch pub := raw.(type) {
	case *ecdsa.PublicKey:
		if _, err := pub.ECDH(); err != nil {
			return "", fmt.Errorf("EC key is not a valid point: %v", err)
		}
		switch pub.Curve.Params().Name {
		case "P-256":
			return jwa.ES256, nil
		case "P-384":
			return jwa.ES384, nil
		case "P-521":
			return jwa.ES512, nil
		}
		return "", fmt.Errorf("EC curve %s is not supported (use P-256, P-384 or P-521)", pub.Curve.Params().Name)
	case ed25519.PublicKey:
		if len(pub) != ed25519.PublicKeySize {
			return "", fmt.Errorf("Ed25519 key is %d bytes, want %d", len(pub), ed25519.PublicKeySize)
		}
		return jwa.EdDSA, nil
	case *rsa.PublicKey:
		if pub.N.BitLen() < minRSABits {
			return "", fmt.Errorf("RSA key has %d bits; at least %d are required", pub.N.BitLen(), minRSABits)
		}
		return jwa.RS256, nil
	case []byte:
		if len(pub) == 0 {
			return "", errors.New("oct key is empty")
		}
		return jwa.HS256, nil
	case *ecdsa.PrivateKey, ed25519.PrivateKey, *rsa.PrivateKey:
		return "", errors.New("holds a private key; publish public keys only")
	}
	return "", fmt.Errorf("key type %s (%T) is not supported for signatures", k.KeyType(), raw)
}

// declaredAlg checks a JWK's own `alg` against its key type.
func declaredAlg(declared string, kty jwa.KeyType) (jwa.SignatureAlgorithm, error) {
	alg := jwa.SignatureAlgorithm(declared)
	if alg == jwa.NoSignature {
		return "", errors.New(`alg "none" is not a signing algorithm`)
	}
	want := map[jwa.SignatureAlgorithm]jwa.KeyType{
		jwa.ES256: jwa.EC, jwa.ES384: jwa.EC, jwa.ES512: jwa.EC,
		jwa.EdDSA: jwa.OKP,
		jwa.RS256: jwa.RSA, jwa.RS384: jwa.RSA, jwa.RS512: jwa.RSA,
		jwa.PS256: jwa.RSA, jwa.PS384: jwa.RSA, jwa.PS512: jwa.RSA,
		jwa.HS256: jwa.OctetSeq, jwa.HS384: jwa.OctetSeq, jwa.HS512: jwa.OctetSeq,
	}
	kind, ok := want[alg]
	if !ok {
		return "", fmt.Errorf("alg %q is not a supported signature algorithm", declared)
	}
	if kind != kty {
		return "", fmt.Errorf("alg %s needs a %s key, not %s", alg, kind, kty)
	}
	return alg, nil
}

// curveMatches reports whether an EC key's curve is the one alg signs with,
// so that a declared ES384 on a P-256 key is refused.
func curveMatches(alg jwa.SignatureAlgorithm, raw any) bool {
	pub, ok := raw.(*ecdsa.PublicKey)
	if !ok {
		return true
	}
	want := map[jwa.SignatureAlgorithm]string{jwa.ES256: "P-256", jwa.ES384: "P-384", jwa.ES512: "P-521"}
	return want[alg] == pub.Curve.Params().Name
}

func rawSecret(raw any) []byte {
	b, _ := raw.([]byte)
	return b
}

// hmacMinBytes is RFC 7518 §3.2: a key at least as long as the hash output.
func hmacMinBytes(alg jwa.SignatureAlgorithm) int {
	switch alg {
	case jwa.HS384:
		return 48
	case jwa.HS512:
		return 64
	}
	return 32
}
