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

const minHMACSecret = 32

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
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "HS256":
		secret := make([]byte, minHMACSecret)
		if _, err := rand.Read(secret); err != nil {
			return SigningKey{}, err
		}
		return SigningKey{KID: hmacKID(secret), Alg: alg, Private: secret, CreatedAt: now.UTC(), Active: true}, nil
	default:
		return SigningKey{}, fmt.Errorf("unsupported signing algorithm %q", alg)
	}
	if err != nil {
		return SigningKey{}, fmt.Errorf("generate %s key: %w", alg, err)
	}
	return signingKeyFrom(alg, priv, now)
}

// ParseSigningKey reads the contents of a --signing-key file for alg.
func ParseSigningKey(alg string, data []byte, now time.Time) (SigningKey, error) {
	if alg == "HS256" {
		if len(data) < minHMACSecret {
			return SigningKey{}, fmt.Errorf("HS256 secret has %d bytes; need at least %d random bytes", len(data), minHMACSecret)
		}
		secret := append([]byte(nil), data...)
		return SigningKey{KID: hmacKID(secret), Alg: alg, Private: secret, CreatedAt: now.UTC(), Active: true}, nil
	}
	if !ValidAlg(alg) {
		return SigningKey{}, fmt.Errorf("unsupported signing algorithm %q", alg)
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
		return SigningKey{}, fmt.Errorf("parse signing key: %w", err)
	}
	signer, err := checkKeyType(alg, key)
	if err != nil {
		return SigningKey{}, err
	}
	return signingKeyFrom(alg, signer, now)
}

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
			if k.N.BitLen() < 2048 {
				return nil, fmt.Errorf("RSA key has %d bits; need at least 2048", k.N.BitLen())
			}
			return k, nil
		}
	}
	return nil, fmt.Errorf("signing key type %T does not match algorithm %s", key, alg)
}

func signingKeyFrom(alg string, priv crypto.Signer, now time.Time) (SigningKey, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return SigningKey{}, fmt.Errorf("encode signing key: %w", err)
	}
	jwk := publicJWK(alg, priv.Public(), "")
	return SigningKey{
		KID:       thumbprint(jwk),
		Alg:       alg,
		Private:   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		CreatedAt: now.UTC(),
		Active:    true,
	}, nil
}

// parsePrivate turns a stored key back into what golang-jwt signs with.
func parsePrivate(k SigningKey) (any, error) {
	if k.Alg == "HS256" {
		if len(k.Private) < minHMACSecret {
			return nil, fmt.Errorf("key %s: HS256 secret too short", k.KID)
		}
		return k.Private, nil
	}
	block, _ := pem.Decode(k.Private)
	if block == nil {
		return nil, fmt.Errorf("key %s: no PEM block", k.KID)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", k.KID, err)
	}
	return checkKeyType(k.Alg, key)
}

func hmacKID(secret []byte) string {
	sum := sha256.Sum256(append([]byte("authctl-hs256-kid:"), secret...))
	return base64.RawURLEncoding.EncodeToString(sum[:])[:22]
}

// JWKSet is a JSON Web Key Set (RFC 7517).
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

// JWK is one public key.
type JWK struct {
	Kty string `json:"kty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	Kid string `json:"kid,omitempty"`
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
		ecdh, _ := p.ECDH()
		raw := ecdh.Bytes() // 0x04 || X || Y
		j.Kty, j.Crv, j.X, j.Y = "EC", "P-256", b64(raw[1:33]), b64(raw[33:65])
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
	data, _ := json.Marshal(members)
	sum := sha256.Sum256(data)
	return b64(sum[:])
}
