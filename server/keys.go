package server

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"time"

	"github.com/authctl/authctl/jose"
)

// minHMACSecret is HS256's output size: a shorter secret weakens the MAC (RFC 7518
// section 3.2).
const minHMACSecret = 32

// JWKSet and JWK are jose's: the set the server publishes is the one clients parse.
type (
	JWKSet = jose.JWKSet
	JWK    = jose.JWK
)

// GenerateSigningKey makes a new active key for alg.
func GenerateSigningKey(alg string, now time.Time) (SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "RS256":
		priv, err = rsa.GenerateKey(rand.Reader, jose.MinRSABits)
	case "HS256":
		secret := make([]byte, minHMACSecret)
		if _, err := rand.Read(secret); err != nil {
			return SigningKey{}, fmt.Errorf("generate HS256 secret: %w", err)
		}
		return hmacSigningKey(secret, now), nil
	default:
		return SigningKey{}, fmt.Errorf("unsupported signing algorithm %q", alg)
	}
	if err != nil {
		return SigningKey{}, fmt.Errorf("generate %s key: %w", alg, err)
	}
	return signingKeyFrom(alg, priv, now)
}

// ParseSigningKey reads the contents of a --signing-key file for alg: a PEM private key
// (PKCS#8, SEC 1 or PKCS#1) of the matching type, or for HS256 the raw secret bytes.
func ParseSigningKey(alg string, data []byte, now time.Time) (SigningKey, error) {
	if !jose.ValidAlg(alg) {
		return SigningKey{}, fmt.Errorf("unsupported signing algorithm %q", alg)
	}
	if alg == "HS256" {
		if len(data) < minHMACSecret {
			return SigningKey{}, fmt.Errorf("HS256 secret has %d bytes; need at least %d random bytes", len(data), minHMACSecret)
		}
		return hmacSigningKey(append([]byte(nil), data...), now), nil
	}
	signer, err := jose.ParsePrivateKeyPEM(data)
	if err != nil {
		return SigningKey{}, fmt.Errorf("signing key file: %w", err)
	}
	if err := jose.CheckSigningKey(alg, signer); err != nil {
		return SigningKey{}, err
	}
	return signingKeyFrom(alg, signer, now)
}

func hmacSigningKey(secret []byte, now time.Time) SigningKey {
	return SigningKey{KID: hmacKID(secret), Alg: "HS256", Private: secret, CreatedAt: now.UTC(), Active: true}
}

// signingKeyFrom stores priv as PKCS#8 PEM, whatever form it was read from, so the store
// holds one format; its kid is the RFC 7638 thumbprint of the public key.
func signingKeyFrom(alg string, priv crypto.Signer, now time.Time) (SigningKey, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return SigningKey{}, fmt.Errorf("encode %s private key: %w", alg, err)
	}
	kid, err := jose.Thumbprint(priv.Public())
	if err != nil {
		return SigningKey{}, fmt.Errorf("%s key id: %w", alg, err)
	}
	return SigningKey{
		KID:       kid,
		Alg:       alg,
		Private:   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		CreatedAt: now.UTC(),
		Active:    true,
	}, nil
}

// parsePrivate turns a stored key back into the signing key golang-jwt takes and the
// matching verification key (for HS256 both are the secret).
func parsePrivate(k SigningKey) (priv, pub any, err error) {
	if k.Alg == "HS256" {
		if len(k.Private) < minHMACSecret {
			return nil, nil, fmt.Errorf("key %s: HS256 secret too short", k.KID)
		}
		return k.Private, k.Private, nil
	}
	signer, err := jose.ParsePrivateKeyPEM(k.Private)
	if err != nil {
		return nil, nil, fmt.Errorf("key %s: %w", k.KID, err)
	}
	if err := jose.CheckSigningKey(k.Alg, signer); err != nil {
		return nil, nil, fmt.Errorf("key %s: %w", k.KID, err)
	}
	return signer, signer.Public(), nil
}

// publicJWK is the JWKS entry of a key parsePrivate returned. parsePrivate has checked that
// the key fits alg, which is all jose.PublicJWK can refuse, so the error is not reachable.
func publicJWK(alg string, pub any, kid string) JWK {
	j, _ := jose.PublicJWK(alg, pub, kid)
	return j
}

// hmacKID names an HS256 secret without revealing it: a thumbprint would need a public key,
// and a bare hash of the secret is domain-separated so it is useless anywhere else.
func hmacKID(secret []byte) string {
	h := sha256.New()
	h.Write([]byte("authctl-hs256-kid:"))
	h.Write(secret)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))[:22]
}
