package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
)

// JWKSet is a JSON Web Key Set (RFC 7517 section 5), as served at /.well-known/jwks.json.
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

// JWK is one public signing key (RFC 7517 section 4, members from RFC 7518 section 6 and
// RFC 8037 section 2).
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

// b64 is the unpadded base64url of RFC 7515 section 2. Decoding is strict: a string that
// re-encodes differently (stray bits in the last character) names no key.
var b64 = base64.RawURLEncoding.Strict()

// PublicJWK encodes pub as the JWKS entry for alg with key ID kid. alg must be the
// algorithm AlgFor gives for pub.
func PublicJWK(alg string, pub crypto.PublicKey, kid string) (JWK, error) {
	got, err := AlgFor(pub)
	if err != nil {
		return JWK{}, err
	}
	if got != alg {
		return JWK{}, fmt.Errorf("a %T is not a key for %s", pub, alg)
	}
	j := JWK{Use: "sig", Alg: alg, Kid: kid}
	switch p := pub.(type) {
	case ed25519.PublicKey:
		j.Kty, j.Crv, j.X = "OKP", "Ed25519", b64.EncodeToString(p)
	case *ecdsa.PublicKey:
		// Coordinates are fixed-width (RFC 7518 section 6.2.1.2): take them from the
		// uncompressed point 0x04 || X || Y rather than from big.Int bytes.
		raw, err := p.Bytes()
		if err != nil {
			return JWK{}, fmt.Errorf("encode P-256 key: %w", err)
		}
		j.Kty, j.Crv, j.X, j.Y = "EC", "P-256", b64.EncodeToString(raw[1:33]), b64.EncodeToString(raw[33:65])
	case *rsa.PublicKey:
		j.Kty, j.N, j.E = "RSA", b64.EncodeToString(p.N.Bytes()), b64.EncodeToString(big.NewInt(int64(p.E)).Bytes())
	default:
		// AlgFor also accepts private keys; a JWKS must never be built from one by mistake.
		return JWK{}, fmt.Errorf("a %T is not a public key", pub)
	}
	return j, nil
}

// Thumbprint is the RFC 7638 JWK thumbprint of pub, base64url: SHA-256 over the required
// members in lexicographic order, without white space. authctl uses it as the kid, so a
// key's ID follows from the key alone.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	alg, err := AlgFor(pub)
	if err != nil {
		return "", err
	}
	j, err := PublicJWK(alg, pub, "")
	if err != nil {
		return "", err
	}
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
	return b64.EncodeToString(sum[:]), nil
}

// PublicKey decodes j into a verification key and the algorithm it is pinned to. A key
// marked for another use ("enc") or naming an algorithm its type does not fit is refused.
func (j JWK) PublicKey() (alg string, pub crypto.PublicKey, err error) {
	if j.Use != "" && j.Use != "sig" {
		return "", nil, fmt.Errorf("key use %q is not sig", j.Use)
	}
	var m members
	switch {
	case j.Kty == "OKP" && j.Crv == "Ed25519":
		x := m.decode("x", j.X, ed25519.PublicKeySize)
		if m.err != nil {
			return "", nil, m.err
		}
		pub = ed25519.PublicKey(x)
	case j.Kty == "EC" && j.Crv == "P-256":
		x, y := m.decode("x", j.X, 32), m.decode("y", j.Y, 32)
		if m.err != nil {
			return "", nil, m.err
		}
		// Refuses points off the curve, which would otherwise leak through invalid-curve
		// arithmetic.
		pub, err = ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return "", nil, fmt.Errorf("P-256 key: %w", err)
		}
	case j.Kty == "RSA":
		n, e := m.decode("n", j.N, 0), m.decode("e", j.E, 0)
		if m.err != nil {
			return "", nil, m.err
		}
		ev := new(big.Int).SetBytes(e)
		if !ev.IsInt64() || ev.Int64() < 3 || ev.Int64() > 1<<31-1 || ev.Bit(0) == 0 {
			return "", nil, errors.New("RSA exponent e is not an odd number from 3 to 2^31-1")
		}
		pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(ev.Int64())}
	default:
		return "", nil, fmt.Errorf("unsupported key type %q (crv %q)", j.Kty, j.Crv)
	}
	alg, err = AlgFor(pub)
	if err != nil {
		return "", nil, err
	}
	if j.Alg != "" && j.Alg != alg {
		return "", nil, fmt.Errorf("a %s key cannot be for %q", alg, j.Alg)
	}
	return alg, pub, nil
}

// members decodes the base64url members of a key and keeps the first that is wrong, so that
// a key type decodes all it needs and checks once.
type members struct{ err error }

// decode is the member name, whose text is s: size bytes, or when size is 0 any but none.
func (m *members) decode(name, s string, size int) []byte {
	v, err := b64.DecodeString(s)
	if m.err == nil && (err != nil || len(v) == 0 || (size > 0 && len(v) != size)) {
		m.err = fmt.Errorf("member %s is not %s base64url", name, sizeText(size))
	}
	return v
}

func sizeText(size int) string {
	if size == 0 {
		return "non-empty"
	}
	return fmt.Sprintf("%d bytes of", size)
}
