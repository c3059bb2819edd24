package client

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// VerifyKeys are the keys a token may be verified with, each pinned to one algorithm.
type VerifyKeys struct {
	byKID map[string]verifyKey // from a JWKS
	one   *verifyKey           // from a PEM file or a secret
}

type verifyKey struct {
	alg string
	key any
}

// KeysFromPEM reads a public (or private) key in PEM; its type decides the algorithm.
func KeysFromPEM(data []byte) (VerifyKeys, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return VerifyKeys{}, errors.New("no PEM block in the key file")
	}
	var key any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		return VerifyKeys{}, fmt.Errorf("PEM block %q is not a key", block.Type)
	}
	if err != nil {
		return VerifyKeys{}, fmt.Errorf("parse key: %w", err)
	}
	if s, ok := key.(crypto.Signer); ok {
		key = s.Public()
	}
	alg, err := algFor(key)
	if err != nil {
		return VerifyKeys{}, err
	}
	return VerifyKeys{one: &verifyKey{alg: alg, key: key}}, nil
}

// KeysFromSecret is an HS256 secret.
func KeysFromSecret(secret []byte) VerifyKeys {
	return VerifyKeys{one: &verifyKey{alg: "HS256", key: secret}}
}

func algFor(key any) (string, error) {
	switch k := key.(type) {
	case ed25519.PublicKey:
		return "EdDSA", nil
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return "ES256", nil
		}
	case *rsa.PublicKey:
		return "RS256", nil
	}
	return "", fmt.Errorf("unsupported key type %T", key)
}

// FetchJWKS downloads a JSON Web Key Set.
func FetchJWKS(ctx context.Context, hc *http.Client, url string) (VerifyKeys, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return VerifyKeys{}, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return VerifyKeys{}, fmt.Errorf("%w: fetch JWKS: %w", ErrOffline, err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			Kty, Alg, Kid, Crv, X, Y, N, E string
		} `json:"keys"`
	}
	if resp.StatusCode != http.StatusOK {
		return VerifyKeys{}, fmt.Errorf("fetch JWKS: %w", responseError(resp, time.Now()))
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&set); err != nil {
		return VerifyKeys{}, fmt.Errorf("fetch JWKS: %w", err)
	}
	ks := VerifyKeys{byKID: map[string]verifyKey{}}
	for _, j := range set.Keys {
		b := func(s string) []byte { v, _ := base64.RawURLEncoding.DecodeString(s); return v }
		var vk verifyKey
		switch {
		case j.Kty == "OKP" && j.Crv == "Ed25519" && len(b(j.X)) == ed25519.PublicKeySize:
			vk = verifyKey{alg: "EdDSA", key: ed25519.PublicKey(b(j.X))}
		case j.Kty == "EC" && j.Crv == "P-256":
			raw := append(append([]byte{4}, b(j.X)...), b(j.Y)...)
			pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
			if err != nil {
				continue
			}
			vk = verifyKey{alg: "ES256", key: pub}
		case j.Kty == "RSA":
			vk = verifyKey{alg: "RS256", key: &rsa.PublicKey{N: new(big.Int).SetBytes(b(j.N)), E: int(new(big.Int).SetBytes(b(j.E)).Int64())}}
		default:
			continue
		}
		if j.Alg != "" && j.Alg != vk.alg {
			continue
		}
		ks.byKID[j.Kid] = vk
	}
	if len(ks.byKID) == 0 {
		return VerifyKeys{}, errors.New("the JWKS has no usable keys")
	}
	return ks, nil
}

// VerifyOptions narrow what a valid token is.
type VerifyOptions struct {
	Alg      string // pinned algorithm; "" → the key's own
	Issuer   string // checked when set
	Audience string // checked when set
	Now      time.Time
}

// Verify checks token against keys and returns its claims, or an error saying why not:
// "signature invalid", "expired 3m ago", "wrong audience" …
func Verify(token string, keys VerifyKeys, o VerifyOptions) (jwt.MapClaims, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	keyFunc := func(t *jwt.Token) (any, error) {
		var vk verifyKey
		if keys.one != nil {
			vk = *keys.one
		} else {
			kid, _ := t.Header["kid"].(string)
			k, ok := keys.byKID[kid]
			if !ok {
				return nil, fmt.Errorf("no key with kid %q in the JWKS", kid)
			}
			vk = k
		}
		if o.Alg != "" && o.Alg != vk.alg {
			return nil, fmt.Errorf("key is for %s, not %s", vk.alg, o.Alg)
		}
		if t.Method.Alg() != vk.alg {
			return nil, fmt.Errorf("token is signed with %s, key is for %s", t.Method.Alg(), vk.alg)
		}
		return vk.key, nil
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{"EdDSA", "ES256", "RS256", "HS256"}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return o.Now }),
	}
	if o.Alg != "" {
		opts[0] = jwt.WithValidMethods([]string{o.Alg})
	}
	if o.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(o.Issuer))
	}
	if o.Audience != "" {
		opts = append(opts, jwt.WithAudience(o.Audience))
	}
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(opts...).ParseWithClaims(strings.TrimSpace(token), claims, keyFunc)
	if err == nil {
		return claims, nil
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, errors.New("malformed token")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return nil, errors.New("signature invalid")
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return nil, fmt.Errorf("cannot verify: %v", errors.Unwrap(err))
	case errors.Is(err, jwt.ErrTokenExpired):
		if exp, e := claims.GetExpirationTime(); e == nil && exp != nil {
			return nil, fmt.Errorf("expired %s ago", Ago(o.Now.Sub(exp.Time)))
		}
		return nil, errors.New("expired")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return nil, errors.New("wrong audience")
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return nil, errors.New("wrong issuer")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return nil, errors.New("not valid yet")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return nil, errors.New("no exp claim")
	}
	return nil, err
}

// Ago rounds a duration for people: 3m12s, 2h, 5d.
func Ago(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	case d < 48*time.Hour:
		return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}
