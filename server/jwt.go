package server

import (
	"crypto"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// AccessClaims are the claims of an access token (RFC 9068 profile).
type AccessClaims struct {
	jwt.RegisteredClaims
	ClientID string `json:"client_id"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	SID      string `json:"sid"`
}

// Verification errors.
var (
	ErrInvalidToken = errors.New("invalid token")
	ErrTokenExpired = errors.New("token expired")
)

// KeySet signs access tokens with the active key of one algorithm and verifies them with any
// key of that algorithm. Keys are looked up by kid in a map fixed at construction: never
// fetched, never taken from the token.
type KeySet struct {
	alg     string
	method  jwt.SigningMethod
	signKID string
	signKey any
	verify  map[string]any // kid → public key (HS256: the secret)
	jwks    JWKSet
	parser  *jwt.Parser
}

// NewKeySet builds a KeySet from the keys of alg; other algorithms' keys are ignored.
func NewKeySet(alg string, keys []SigningKey) (*KeySet, error) {
	method := jwt.GetSigningMethod(alg)
	if method == nil || !ValidAlg(alg) {
		return nil, fmt.Errorf("unsupported signing algorithm %q", alg)
	}
	ks := &KeySet{alg: alg, method: method, verify: map[string]any{}, jwks: JWKSet{Keys: []JWK{}}}
	for _, k := range keys {
		if k.Alg != alg {
			continue
		}
		priv, err := parsePrivate(k)
		if err != nil {
			return nil, err
		}
		if k.Active && ks.signKey == nil {
			ks.signKID, ks.signKey = k.KID, priv
		}
		if signer, ok := priv.(crypto.Signer); ok {
			ks.verify[k.KID] = signer.Public()
			ks.jwks.Keys = append(ks.jwks.Keys, publicJWK(alg, signer.Public(), k.KID))
		} else {
			ks.verify[k.KID] = priv
		}
	}
	if ks.signKey == nil {
		return nil, fmt.Errorf("no active %s signing key", alg)
	}
	return ks, nil
}

// Alg returns the pinned algorithm.
func (k *KeySet) Alg() string { return k.alg }

// JWKS returns the public keys (none for HS256).
func (k *KeySet) JWKS() JWKSet { return k.jwks }

// Sign issues a token with header typ at+jwt and the active key's kid.
func (k *KeySet) Sign(c AccessClaims) (string, error) {
	t := jwt.NewWithClaims(k.method, c)
	t.Header["typ"] = "at+jwt"
	t.Header["kid"] = k.signKID
	return t.SignedString(k.signKey)
}

const maxTokenLen = 8 << 10

// Verify checks a token's signature, algorithm, type, issuer, audience and times at now.
func (k *KeySet) Verify(token, issuer, audience string, now time.Time) (*AccessClaims, error) {
	if len(token) > maxTokenLen {
		return nil, fmt.Errorf("%w: token larger than %d bytes", ErrInvalidToken, maxTokenLen)
	}
	var claims AccessClaims
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{k.alg}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	_, err := parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		typ, _ := t.Header["typ"].(string)
		if !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
			return nil, fmt.Errorf("typ %q is not at+jwt", typ)
		}
		kid, _ := t.Header["kid"].(string)
		key, ok := k.verify[kid]
		if !ok {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		return key, nil
	})
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired) && onlyExpired(err):
		return nil, ErrTokenExpired
	default:
		return nil, fmt.Errorf("%w: %s", ErrInvalidToken, reason(err))
	}
	if claims.Subject == "" || claims.SID == "" {
		return nil, fmt.Errorf("%w: sub or sid missing", ErrInvalidToken)
	}
	return &claims, nil
}

// onlyExpired reports whether expiry was the only complaint: golang-jwt validates claims only
// after the signature verified, so an expired token with a bad signature never gets here
// as "expired" alone.
func onlyExpired(err error) bool {
	for _, other := range []error{jwt.ErrTokenSignatureInvalid, jwt.ErrTokenUnverifiable, jwt.ErrTokenMalformed,
		jwt.ErrTokenInvalidIssuer, jwt.ErrTokenInvalidAudience, jwt.ErrTokenNotValidYet, jwt.ErrTokenUsedBeforeIssued,
		jwt.ErrTokenRequiredClaimMissing, jwt.ErrTokenInvalidClaims} {
		if errors.Is(err, other) && other != jwt.ErrTokenInvalidClaims {
			return false
		}
	}
	return true
}

// reason gives a short cause without echoing the token.
func reason(err error) string {
	for _, e := range []struct {
		err error
		msg string
	}{
		{jwt.ErrTokenMalformed, "malformed"},
		{jwt.ErrTokenSignatureInvalid, "signature invalid"},
		{jwt.ErrTokenUnverifiable, "unverifiable"},
		{jwt.ErrTokenInvalidIssuer, "wrong issuer"},
		{jwt.ErrTokenInvalidAudience, "wrong audience"},
		{jwt.ErrTokenNotValidYet, "not valid yet"},
		{jwt.ErrTokenUsedBeforeIssued, "issued in the future"},
		{jwt.ErrTokenRequiredClaimMissing, "required claim missing"},
	} {
		if errors.Is(err, e.err) {
			return e.msg
		}
	}
	return err.Error()
}
