package jose

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Keys are the keys a token may be verified with, each pinned to one algorithm. The zero
// value holds no key and verifies nothing.
type Keys struct {
	byKID map[string]verifyKey // from a JWKS: the token's kid picks the key
	one   *verifyKey           // from a PEM file or a secret: kid is not looked at
}

type verifyKey struct {
	alg string
	key any
}

// KeysFromPEM reads a public key, or a private key's public half, in PEM (see
// ParsePublicKeyPEM); its type decides the algorithm.
func KeysFromPEM(data []byte) (Keys, error) {
	pub, err := ParsePublicKeyPEM(data)
	if err != nil {
		return Keys{}, err
	}
	alg, err := AlgFor(pub)
	if err != nil {
		return Keys{}, err
	}
	return Keys{one: &verifyKey{alg: alg, key: pub}}, nil
}

// KeysFromSecret is an HS256 secret, taken byte for byte.
func KeysFromSecret(secret []byte) Keys {
	return Keys{one: &verifyKey{alg: "HS256", key: append([]byte(nil), secret...)}}
}

// KeysFromJWKS reads a JSON Web Key Set. Keys this package cannot use (other types, other
// uses, malformed members) are skipped, as RFC 7517 section 5 asks; a kid that appears
// twice is dropped, since a token naming it could not say which key it means. A set with
// no usable key is an error.
func KeysFromJWKS(data []byte) (Keys, error) {
	var set JWKSet
	if err := json.Unmarshal(data, &set); err != nil {
		return Keys{}, fmt.Errorf("parse JWKS: %w", err)
	}
	ks := Keys{byKID: map[string]verifyKey{}}
	seen := map[string]bool{}
	for _, j := range set.Keys {
		if seen[j.Kid] {
			delete(ks.byKID, j.Kid)
			continue
		}
		seen[j.Kid] = true
		alg, pub, err := j.PublicKey()
		if err != nil {
			continue
		}
		ks.byKID[j.Kid] = verifyKey{alg: alg, key: pub}
	}
	if len(ks.byKID) == 0 {
		return Keys{}, errors.New("the JWKS has no usable keys")
	}
	return ks, nil
}

// MaxTokenLen bounds what is base64-decoded and JSON-parsed; authctl's tokens are well under
// a kilobyte.
const MaxTokenLen = 8 << 10

// CompactAlphabet reports whether s holds only base64url characters and dots. Go's base64
// decoder, even in strict mode, skips CR and LF, which would give one signature many
// spellings (and the server's token cache many keys).
func CompactAlphabet(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// VerifyOptions narrow what a valid token is.
type VerifyOptions struct {
	Alg      string    // pinned algorithm; "" → the key's own
	Issuer   string    // iss must equal it when set
	Audience string    // aud must contain it when set
	Type     string    // typ must be it ("at+jwt"), with or without "application/", when set
	Now      time.Time // zero → time.Now(); there is no leeway
}

// Verify checks token against keys and returns its claims, or an error saying why not:
// "signature invalid", "expired 3m0s ago", "wrong audience" … The token must carry exp;
// its algorithm must be the one its key is pinned to; a crit header is refused because no
// extension is understood (RFC 7515 section 4.1.11). Surrounding white space is ignored.
//
// iat is not checked: unlike the server verifying its own tokens, a verifier on another
// machine would refuse fresh tokens whenever its clock runs behind.
func Verify(token string, keys Keys, o VerifyOptions) (jwt.MapClaims, error) {
	token = strings.TrimSpace(token)
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Alg != "" && !ValidAlg(o.Alg) {
		return nil, fmt.Errorf("unsupported algorithm %q", o.Alg)
	}
	if len(token) > MaxTokenLen {
		return nil, fmt.Errorf("malformed token: larger than %d bytes", MaxTokenLen)
	}
	if !CompactAlphabet(token) {
		return nil, errors.New("malformed token")
	}
	// golang-jwt joins a key function's error with its own, so errors.Unwrap cannot get it
	// back; keep it here to say why a token could not be verified.
	var keyErr error
	keyFunc := func(t *jwt.Token) (any, error) {
		vk, err := keys.pick(t, o)
		keyErr = err
		return vk, err
	}
	methods := Algorithms
	if o.Alg != "" {
		methods = []string{o.Alg}
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(methods),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return o.Now }),
		// Non-canonical base64 would let many strings carry one signature.
		jwt.WithStrictDecoding(),
	}
	if o.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(o.Issuer))
	}
	if o.Audience != "" {
		opts = append(opts, jwt.WithAudience(o.Audience))
	}
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(opts...).ParseWithClaims(token, claims, keyFunc)
	if err == nil {
		return claims, nil
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, errors.New("malformed token")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return nil, errors.New("signature invalid")
	case errors.Is(err, jwt.ErrTokenUnverifiable) && keyErr != nil:
		return nil, fmt.Errorf("cannot verify: %w", keyErr)
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return nil, errors.New("cannot verify: unsupported or missing alg")
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

// pick chooses the key for a parsed header. golang-jwt has already refused any alg outside
// the valid methods; pick also refuses one other than the key's own.
func (ks Keys) pick(t *jwt.Token, o VerifyOptions) (any, error) {
	if _, ok := t.Header["crit"]; ok {
		return nil, errors.New("critical header extensions are not supported")
	}
	if o.Type != "" {
		typ, _ := t.Header["typ"].(string)
		if !strings.EqualFold(strings.TrimPrefix(strings.ToLower(typ), "application/"), o.Type) {
			return nil, fmt.Errorf("typ is not %s", o.Type)
		}
	}
	vk := ks.one
	if vk == nil {
		kid, _ := t.Header["kid"].(string)
		k, ok := ks.byKID[kid]
		if !ok {
			return nil, fmt.Errorf("no key with kid %q in the JWKS", kid)
		}
		vk = &k
	}
	if o.Alg != "" && o.Alg != vk.alg {
		return nil, fmt.Errorf("key is for %s, not %s", vk.alg, o.Alg)
	}
	if alg := t.Method.Alg(); alg != vk.alg {
		return nil, fmt.Errorf("token is signed with %s, key is for %s", alg, vk.alg)
	}
	return vk.key, nil
}

// Ago rounds a duration for people, the way Verify's messages and the CLI show times:
// 42s, 3m12s, 5h3m, 5d.
func Ago(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Hour:
		return d.Round(time.Second).String()
	case d < 48*time.Hour:
		return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

// CheckNumericDates refuses a compact token whose payload gives exp, nbf or iat as anything
// but a JSON number (RFC 7519 §2 NumericDate). golang-jwt's NumericDate also reads a quoted
// number ("exp":"1700000000"), so a parser into typed claims would accept a second spelling
// of the same claim; tokens we sign never use one. The signature is not checked here.
func CheckNumericDates(token string) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return errors.New("malformed token")
	}
	payload, err := base64.RawURLEncoding.Strict().DecodeString(parts[1])
	if err != nil {
		return errors.New("malformed payload")
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(payload, &claims); err != nil {
		return errors.New("payload is not a JSON object")
	}
	for _, name := range []string{"exp", "nbf", "iat"} {
		v, ok := claims[name]
		if !ok {
			continue
		}
		var n json.Number
		if len(v) == 0 || v[0] == '"' || json.Unmarshal(v, &n) != nil {
			return fmt.Errorf("%s is not a number", name)
		}
	}
	return nil
}
