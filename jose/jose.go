// Package jose holds what the server and the client must agree on about signed tokens:
// the list of signing algorithms, which key type each algorithm takes, JSON Web Keys
// (RFC 7517) and their thumbprints (RFC 7638), PEM parsing of private and public keys,
// and offline verification of compact JWS tokens (RFC 7515, RFC 7519).
//
// One parser serves both sides, so a key file the server signs with and the public key a
// client verifies with are read by the same code and pinned to the same algorithm. The
// package does no I/O: fetching a JWKS over HTTP is the client's business.
package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"slices"
)

// Algorithms lists the JWS algorithms authctl signs and verifies with, in the order
// commands offer them. EdDSA comes first: it is the default for new key sets.
var Algorithms = []string{"EdDSA", "ES256", "RS256", "HS256"}

// ValidAlg reports whether alg is one of Algorithms. The comparison is exact: "none",
// "es256" and other spellings are refused (RFC 8725 section 3.1).
func ValidAlg(alg string) bool {
	return slices.Contains(Algorithms, alg)
}

// MinRSABits is the smallest RSA modulus used for signing or verifying: RFC 7518
// section 3.3 says a key of 2048 bits or larger MUST be used with RS256.
const MinRSABits = 2048

// AlgFor returns the one algorithm a key may be used with; the key's type decides, never
// a token header, so a public key can never be taken for an HMAC secret. A private key
// gives the algorithm of its public half. HS256 secrets are plain bytes and are not keys
// in this sense.
func AlgFor(key any) (string, error) {
	switch k := key.(type) {
	case ed25519.PrivateKey:
		if len(k) == ed25519.PrivateKeySize {
			return "EdDSA", nil
		}
	case ed25519.PublicKey:
		if len(k) == ed25519.PublicKeySize {
			return "EdDSA", nil
		}
	case *ecdsa.PrivateKey:
		if k != nil {
			return AlgFor(&k.PublicKey)
		}
	case *ecdsa.PublicKey:
		if k != nil && k.Curve == elliptic.P256() {
			return "ES256", nil
		}
		if k != nil && k.Curve != nil {
			return "", fmt.Errorf("unsupported elliptic curve %s: ES256 needs P-256", k.Curve.Params().Name)
		}
	case *rsa.PrivateKey:
		if k != nil {
			return AlgFor(&k.PublicKey)
		}
	case *rsa.PublicKey:
		if k != nil && k.N != nil {
			if bits := k.N.BitLen(); bits < MinRSABits {
				return "", fmt.Errorf("RSA key has %d bits; need at least %d", bits, MinRSABits)
			}
			return "RS256", nil
		}
	}
	return "", fmt.Errorf("unsupported key type %T", key)
}

// CheckSigningKey refuses a private key that does not fit alg, so that a key file meant for
// one algorithm is never silently used with another.
func CheckSigningKey(alg string, key crypto.Signer) error {
	got, err := AlgFor(key)
	if err != nil {
		return fmt.Errorf("signing key for %s: %w", alg, err)
	}
	if got != alg {
		return fmt.Errorf("signing key of type %T does not fit algorithm %s", key, alg)
	}
	return nil
}
