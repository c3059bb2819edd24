package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
)

func TestThumbprintMatchesRFCExamples(t *testing.T) {
	t.Parallel()
	t.Run("Ed25519 from RFC 8037 appendix A.3", func(t *testing.T) {
		t.Parallel()
		x, _ := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
		if got, err := Thumbprint(ed25519.PublicKey(x)); got != "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k" {
			t.Errorf("thumbprint %s, %v", got, err)
		}
	})
	t.Run("RSA from RFC 7638 section 3.1", func(t *testing.T) {
		t.Parallel()
		n, _ := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}
		if got, err := Thumbprint(pub); got != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
			t.Errorf("thumbprint %s, %v", got, err)
		}
	})
	t.Run("a private key has no thumbprint of its own", func(t *testing.T) {
		t.Parallel()
		if _, err := Thumbprint(testKeys().ed); err == nil {
			t.Error("accepted")
		}
	})
}

func TestPublicJWK(t *testing.T) {
	t.Parallel()
	k := testKeys()
	// A P-256 key whose x coordinate starts with a zero byte: big.Int.Bytes would drop it.
	var short *ecdsa.PrivateKey
	for short == nil {
		c, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if raw, _ := c.PublicKey.Bytes(); raw[1] == 0 {
			short = c
		}
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	for _, tc := range []struct {
		name, alg string
		pub       crypto.PublicKey
	}{
		{"Ed25519", "EdDSA", k.ed.Public()},
		{"P-256", "ES256", &k.ec.PublicKey},
		{"P-256 with a leading zero in x", "ES256", &short.PublicKey},
		{"RSA", "RS256", &k.rsa.PublicKey},
	} {
		t.Run(tc.name+" round-trips through a JWKS", func(t *testing.T) {
			t.Parallel()
			j, err := PublicJWK(tc.alg, tc.pub, "k1")
			if err != nil {
				t.Fatal(err)
			}
			if j.Use != "sig" || j.Alg != tc.alg || j.Kid != "k1" {
				t.Errorf("%+v", j)
			}
			if j.Kty == "EC" && (len(j.X) != 43 || len(j.Y) != 43) {
				t.Errorf("coordinates not 32 bytes: x %q y %q", j.X, j.Y)
			}
			alg, pub, err := j.PublicKey()
			if err != nil || alg != tc.alg || !pub.(equaler).Equal(tc.pub) {
				t.Errorf("PublicKey: %s, %v", alg, err)
			}
		})
	}
	t.Run("a key of another type than alg is refused", func(t *testing.T) {
		t.Parallel()
		if _, err := PublicJWK("ES256", k.ed.Public(), ""); err == nil {
			t.Error("accepted")
		}
	})
	t.Run("a private key is never encoded", func(t *testing.T) {
		t.Parallel()
		if _, err := PublicJWK("EdDSA", k.ed, ""); err == nil {
			t.Error("accepted")
		}
	})
}

func TestJWKPublicKeyRefuses(t *testing.T) {
	t.Parallel()
	k := testKeys()
	ed, _ := PublicJWK("EdDSA", k.ed.Public(), "k")
	ec, _ := PublicJWK("ES256", &k.ec.PublicKey, "k")
	rs, _ := PublicJWK("RS256", &k.rsa.PublicKey, "k")
	small := JWK{Kty: "RSA", N: b64.EncodeToString(k.rsaSmall.N.Bytes()), E: "AQAB"}
	with := func(j JWK, change func(*JWK)) JWK { change(&j); return j }
	// The last character of a 32-byte value carries 4 unused bits: "AAA…AB" decodes
	// leniently to the same bytes as "AAA…AA".
	nonCanonical := strings.Repeat("A", 42) + "B"
	for _, tc := range []struct {
		name string
		j    JWK
	}{
		{"a key for encryption", with(ed, func(j *JWK) { j.Use = "enc" })},
		{"an Ed25519 key claiming ES256", with(ed, func(j *JWK) { j.Alg = "ES256" })},
		{"an RSA key claiming HS256", with(rs, func(j *JWK) { j.Alg = "HS256" })},
		{"a 31-byte Ed25519 x", with(ed, func(j *JWK) { j.X = j.X[:41] })},
		{"padded base64", with(ed, func(j *JWK) { j.X += "=" })},
		{"standard base64", with(ed, func(j *JWK) { j.X = base64.RawStdEncoding.EncodeToString(k.ed.Public().(ed25519.PublicKey)) + "+/" })},
		{"non-canonical base64", with(ed, func(j *JWK) { j.X = nonCanonical })},
		{"a point off the curve", with(ec, func(j *JWK) { j.Y = j.X })},
		{"a short EC y", with(ec, func(j *JWK) { j.Y = j.Y[:40] })},
		{"X448", with(ed, func(j *JWK) { j.Crv = "X448" })},
		{"P-384", with(ec, func(j *JWK) { j.Crv = "P-384" })},
		{"an empty RSA modulus", with(rs, func(j *JWK) { j.N = "" })},
		{"RSA e = 1", with(rs, func(j *JWK) { j.E = "AQ" })},
		{"an even RSA e", with(rs, func(j *JWK) { j.E = "AQAA" })},
		{"an RSA e over 2^31", with(rs, func(j *JWK) { j.E = "AQAAAAE" })},
		{"RSA 1024", small},
		{"a symmetric key", JWK{Kty: "oct", Alg: "HS256"}},
		{"no kty", JWK{}},
	} {
		if alg, _, err := tc.j.PublicKey(); err == nil {
			t.Errorf("%s: accepted as %s", tc.name, alg)
		}
	}
	// A member of the wrong size is named before anything is built from it; of two bad
	// members the first is named.
	for _, tc := range []struct {
		name string
		j    JWK
		says string
	}{
		{"a 31-byte Ed25519 x", with(ed, func(j *JWK) { j.X = j.X[:41] }), "member x is not 32 bytes"},
		{"a short EC y", with(ec, func(j *JWK) { j.Y = j.Y[:40] }), "member y is not 32 bytes"},
		{"a bad EC x and y", with(ec, func(j *JWK) { j.X, j.Y = "", "" }), "member x "},
		{"an empty RSA modulus", with(rs, func(j *JWK) { j.N = "" }), "member n is not non-empty"},
	} {
		if _, _, err := tc.j.PublicKey(); err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v, want it to say %q", tc.name, err, tc.says)
		}
	}
}

func TestKeysFromJWKS(t *testing.T) {
	t.Parallel()
	k := testKeys()
	ed, _ := PublicJWK("EdDSA", k.ed.Public(), "ed")
	ec, _ := PublicJWK("ES256", &k.ec.PublicKey, "ec")
	set := func(keys ...JWK) []byte {
		data, err := json.Marshal(JWKSet{Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	t.Run("usable keys are kept by kid and the rest skipped", func(t *testing.T) {
		t.Parallel()
		ks, err := KeysFromJWKS(set(ed, JWK{Kty: "oct", Kid: "hs"}, ec))
		if err != nil {
			t.Fatal(err)
		}
		if len(ks.byKID) != 2 || ks.byKID["ed"].alg != "EdDSA" || ks.byKID["ec"].alg != "ES256" {
			t.Errorf("%+v", ks.byKID)
		}
	})
	t.Run("a kid that appears twice names no key", func(t *testing.T) {
		t.Parallel()
		twin := ec
		twin.Kid = "ed"
		ks, err := KeysFromJWKS(set(ed, twin, ec))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := ks.byKID["ed"]; ok || len(ks.byKID) != 1 {
			t.Errorf("%+v", ks.byKID)
		}
	})
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"an empty set is an error", set()},
		{"a set of unusable keys is an error", set(JWK{Kty: "oct"})},
		{"HS256's empty set is an error", []byte(`{"keys":[]}`)},
		{"no keys member is an error", []byte(`{}`)},
		{"not JSON is an error", []byte(`<html>`)},
		{"keys of the wrong type are an error", []byte(`{"keys":{"kty":"OKP"}}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := KeysFromJWKS(tc.data); err == nil {
				t.Error("accepted")
			}
		})
	}
}
