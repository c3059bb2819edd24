package server

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authctl/authctl/jose"
)

// AccessClaims are the claims of an access token (RFC 9068 profile).
type AccessClaims struct {
	jwt.RegisteredClaims
	ClientID string `json:"client_id"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	SID      string `json:"sid"`
}

// maxTokenLen bounds what is base64-decoded and JSON-parsed for an unauthenticated caller.
const maxTokenLen = 8 << 10

// Reasons a header is refused before any signature check. They never quote the header:
// its values are attacker-chosen and end up in logs.
var (
	errTokenType  = errors.New("typ is not at+jwt")
	errUnknownKID = errors.New("kid missing or unknown")
	errCritical   = errors.New("critical header extensions are not supported")
)

// KeySet signs access tokens with the active key of one algorithm and verifies them with any
// key of that algorithm. Keys are looked up by kid in a map fixed at construction: never
// fetched (jku, x5u) and never taken from the token (jwk, x5c), so the token cannot choose
// its own key or algorithm (RFC 8725 §3.1).
type KeySet struct {
	alg     string
	method  jwt.SigningMethod
	signKey any
	signKID string
	header  string         // base64url of the constant signing header
	verify  map[string]any // kid → public key (HS256: the secret)
	jwks    JWKSet
}

// NewKeySet builds a KeySet from the keys of alg; keys of other algorithms are ignored. The
// first active key signs.
func NewKeySet(alg string, keys []SigningKey) (*KeySet, error) {
	method := jwt.GetSigningMethod(alg)
	if method == nil || !jose.ValidAlg(alg) {
		return nil, fmt.Errorf("unsupported signing algorithm %q", alg)
	}
	ks := &KeySet{alg: alg, method: method, verify: map[string]any{}, jwks: JWKSet{Keys: []JWK{}}}
	for _, k := range keys {
		if k.Alg != alg {
			continue
		}
		priv, pub, err := parsePrivate(k)
		if err != nil {
			return nil, err
		}
		if k.Active && ks.signKey == nil {
			ks.signKID, ks.signKey = k.KID, priv
		}
		ks.verify[k.KID] = pub
		if alg != "HS256" {
			ks.jwks.Keys = append(ks.jwks.Keys, publicJWK(alg, pub, k.KID))
		}
	}
	if ks.signKey == nil {
		return nil, fmt.Errorf("no active %s signing key", alg)
	}
	h, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{alg, ks.signKID, "at+jwt"})
	if err != nil {
		return nil, fmt.Errorf("encode token header: %w", err)
	}
	ks.header = base64.RawURLEncoding.EncodeToString(h)
	return ks, nil
}

// Alg returns the pinned algorithm.
func (k *KeySet) Alg() string { return k.alg }

// JWKS returns the public keys; for HS256 the set is empty since the secret is not public.
func (k *KeySet) JWKS() JWKSet { return JWKSet{Keys: slices.Clone(k.jwks.Keys)} }

// Sign issues a token with header typ at+jwt and the active key's kid. The header is encoded
// once at construction, so a token costs one claims marshal and one signature.
func (k *KeySet) Sign(c AccessClaims) (string, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	enc := base64.RawURLEncoding
	var b strings.Builder
	b.Grow(len(k.header) + 2 + enc.EncodedLen(len(payload)) + enc.EncodedLen(256))
	b.WriteString(k.header)
	b.WriteByte('.')
	buf := make([]byte, enc.EncodedLen(len(payload)))
	enc.Encode(buf, payload)
	b.Write(buf)
	sig, err := k.method.Sign(b.String(), k.signKey)
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	b.WriteByte('.')
	b.WriteString(enc.EncodeToString(sig))
	return b.String(), nil
}

// Verify checks a token's signature, algorithm, type, issuer, audience and times at now,
// with no leeway. An expired token whose signature and other claims are good yields
// ErrTokenExpired; every other failure wraps ErrInvalidToken.
func (k *KeySet) Verify(token, issuer, audience string, now time.Time) (*AccessClaims, error) {
	if len(token) > maxTokenLen {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalidToken, maxTokenLen)
	}
	if !jose.CompactAlphabet(token) {
		return nil, fmt.Errorf("%w: malformed", ErrInvalidToken)
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{k.alg}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return now }),
		// Non-canonical base64 would let many strings carry one signature.
		jwt.WithStrictDecoding(),
	)
	var claims AccessClaims
	_, err := parser.ParseWithClaims(token, &claims, k.keyFor)
	switch {
	case err == nil:
	case onlyExpired(err):
		return nil, ErrTokenExpired
	default:
		return nil, fmt.Errorf("%w: %s", ErrInvalidToken, reason(err))
	}
	if claims.Subject == "" || claims.SID == "" {
		return nil, fmt.Errorf("%w: sub or sid missing", ErrInvalidToken)
	}
	// Checked once the signature holds, so that a malformed token is reported as such.
	if err := jose.CheckNumericDates(token); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	return &claims, nil
}

// keyFor picks the verification key from the header. golang-jwt has already refused any
// alg other than the pinned one, so a public key can never be used as an HMAC secret.
func (k *KeySet) keyFor(t *jwt.Token) (any, error) {
	typ, _ := t.Header["typ"].(string)
	if !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		return nil, errTokenType
	}
	if _, ok := t.Header["crit"]; ok {
		return nil, errCritical
	}
	kid, _ := t.Header["kid"].(string)
	key, ok := k.verify[kid]
	if !ok {
		return nil, errUnknownKID
	}
	return key, nil
}

// onlyExpired reports whether expiry was the sole complaint. golang-jwt validates claims
// only after the signature verified, so a forged expired token never counts as expired.
func onlyExpired(err error) bool {
	if !errors.Is(err, jwt.ErrTokenExpired) {
		return false
	}
	for _, other := range []error{jwt.ErrTokenInvalidIssuer, jwt.ErrTokenInvalidAudience,
		jwt.ErrTokenNotValidYet, jwt.ErrTokenUsedBeforeIssued, jwt.ErrTokenRequiredClaimMissing,
		jwt.ErrTokenSignatureInvalid, jwt.ErrTokenUnverifiable, jwt.ErrTokenMalformed} {
		if errors.Is(err, other) {
			return false
		}
	}
	return true
}

// reason gives a short cause without echoing any part of the token.
func reason(err error) string {
	for _, e := range []struct {
		err error
		msg string
	}{
		{errTokenType, errTokenType.Error()},
		{errUnknownKID, errUnknownKID.Error()},
		{errCritical, errCritical.Error()},
		{jwt.ErrTokenMalformed, "malformed"},
		{jwt.ErrTokenSignatureInvalid, "bad signature or algorithm"},
		{jwt.ErrTokenInvalidIssuer, "wrong issuer"},
		{jwt.ErrTokenInvalidAudience, "wrong audience"},
		{jwt.ErrTokenNotValidYet, "not valid yet"},
		{jwt.ErrTokenUsedBeforeIssued, "issued in the future"},
		{jwt.ErrTokenRequiredClaimMissing, "required claim missing"},
		{jwt.ErrTokenExpired, "expired"},
	} {
		if errors.Is(err, e.err) {
			return e.msg
		}
	}
	return "unverifiable"
}
