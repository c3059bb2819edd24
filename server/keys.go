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
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// ValidAlg reports whether alg is one of the supported signing algorithms.
func ValidAlg(alg string) bool {
	switch alg {
	case "EdDSA", "ES256", "RS256", "HS256":
		return true
	}
	return false
}

const (
	// minHMACSecret is HS256's output size: a shorter secret weakens the MAC (RFC 7518 §3.2).
	minHMACSecret = 32
	minRSABits    = 2048
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
		priv, err = rsa.GenerateKey(rand.Reader, minRSABits)
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
	if !ValidAlg(alg) {
		return SigningKey{}, fmt.Errorf("unsupported signing algorithm %q", alg)
	}
	if alg == "HS256" {
		if len(data) < minHMACSecret {
			return SigningKey{}, fmt.Errorf("HS256 secret has %d bytes; need at least %d random bytes", len(data), minHMACSecret)
		}
		return hmacSigningKey(append([]byte(nil), data...), now), nil
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return SigningKey{}, errors.New("no PEM block in signing key file")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return SigningKey{}, fmt.Errorf("PEM block %q is not a private key", block.Type)
	}
	if err != nil {
		return SigningKey{}, fmt.Errorf("parse %s private key: %w", block.Type, err)
	}
	signer, err := checkKeyType(alg, key)
	if err != nil {
		return SigningKey{}, err
	}
	return signingKeyFrom(alg, signer, now)
}

func hmacSigningKey(secret []byte, now time.Time) SigningKey {
	return SigningKey{KID: hmacKID(secret), Alg: "HS256", Private: secret, CreatedAt: now.UTC(), Active: true}
}

// checkKeyType refuses a key that does not fit alg, so that a key file meant for one
// algorithm is never silently used with another.
func checkKeyType(alg string, key any) (crypto.Signer, error) {
	switch k := key.(type) {
	case ed25519.PrivateKey:
		if alg == "EdDSA" {
			return k, nil
		}
	case *ecdsa.PrivateKey:
		if alg == "ES256" && k.Curve == elliptic.P256() {
			return k, nil
		}
	case *rsa.PrivateKey:
		if alg == "RS256" {
			if k.N.BitLen() < minRSABits {
				return nil, fmt.Errorf("RSA key has %d bits; need at least %d", k.N.BitLen(), minRSABits)
			}
			return k, nil
		}
	}
	return nil, fmt.Errorf("signing key of type %T does not fit algorithm %s", key, alg)
}

func signingKeyFrom(alg string, priv crypto.Signer, now time.Time) (SigningKey, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return SigningKey{}, fmt.Errorf("encode %s private key: %w", alg, err)
	}
	return SigningKey{
		KID:       thumbprint(publicJWK(alg, priv.Public(), "")),
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
	block, _ := pem.Decode(k.Private)
	if block == nil {
		return nil, nil, fmt.Errorf("key %s: no PEM block", k.KID)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("key %s: %w", k.KID, err)
	}
	signer, err := checkKeyType(k.Alg, key)
	if err != nil {
		return nil, nil, fmt.Errorf("key %s: %w", k.KID, err)
	}
	return signer, signer.Public(), nil
}

// hmacKID names an HS256 secret without revealing it: a thumbprint would need a public key,
// and a bare hash of the secret is domain-separated so it is useless anywhere else.
func hmacKID(secret []byte) string {
	h := sha256.New()
	h.Write([]byte("authctl-hs256-kid:"))
	h.Write(secret)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))[:22]
}

// JWKSet is a JSON Web Key Set (RFC 7517).
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

// JWK is one public key.
type JWK struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func publicJWK(alg string, pub crypto.PublicKey, kid string) JWK {
	j := JWK{Use: "sig", Alg: alg, Kid: kid}
	switch p := pub.(type) {
	case ed25519.PublicKey:
		j.Kty, j.Crv, j.X = "OKP", "Ed25519", b64(p)
	case *ecdsa.PublicKey:
		// Coordinates are fixed-width (RFC 7518 §6.2.1.2): take them from the
		// uncompressed point 0x04 || X || Y rather than from big.Int bytes.
		if e, err := p.ECDH(); err == nil {
			raw := e.Bytes()
			j.Kty, j.Crv, j.X, j.Y = "EC", "P-256", b64(raw[1:33]), b64(raw[33:65])
		}
	case *rsa.PublicKey:
		j.Kty, j.N, j.E = "RSA", b64(p.N.Bytes()), b64(big.NewInt(int64(p.E)).Bytes())
	}
	return j
}

// thumbprint is the RFC 7638 JWK thumbprint: SHA-256 over the required members in
// lexicographic order, without white space.
func thumbprint(j JWK) string {
	var members any
	switch j.Kty {
	case "OKP":
		members = struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
		}{j.Crv, j.Kty, j.X}
	case "EC":
		members = struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
			Y   string `json:"y"`
		}{j.Crv, j.Kty, j.X, j.Y}
	default:
		members = struct {
			E   string `json:"e"`
			Kty string `json:"kty"`
			N   string `json:"n"`
		}{j.E, j.Kty, j.N}
	}
	data, _ := json.Marshal(members) // only strings: cannot fail
	sum := sha256.Sum256(data)
	return b64(sum[:])
}
