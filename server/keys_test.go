package server

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
)

// pemOf wraps DER from an x509 marshaller, as pemOf(t, "PRIVATE KEY")(x509.Marshal…(k)).
func pemOf(t *testing.T, typ string) func(der []byte, err error) []byte {
	return func(der []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	}
}

func TestGenerateSigningKey(t *testing.T) {
	t.Parallel()
	for _, alg := range algs {
		t.Run(alg+" keys are active, fresh and parse back to the same kid", func(t *testing.T) {
			t.Parallel()
			a, err := GenerateSigningKey(alg, testNow)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := GenerateSigningKey(alg, testNow)
			if !a.Active || a.Alg != alg || !a.CreatedAt.Equal(testNow) || a.KID == "" || a.KID == b.KID {
				t.Errorf("%+v", a)
			}
			p, err := ParseSigningKey(alg, a.Private, testNow)
			if err != nil || p.KID != a.KID || string(p.Private) != string(a.Private) {
				t.Errorf("round trip: %v, kid %s vs %s", err, p.KID, a.KID)
			}
			if alg != "HS256" && !strings.HasPrefix(string(a.Private), "-----BEGIN PRIVATE KEY-----") {
				t.Errorf("not PKCS#8 PEM: %.30s", a.Private)
			}
		})
	}
	t.Run("an unknown algorithm is an error", func(t *testing.T) {
		t.Parallel()
		for _, alg := range []string{"none", "HS512", "eddsa", ""} {
			if _, err := GenerateSigningKey(alg, testNow); err == nil || ValidAlg(alg) {
				t.Errorf("%q accepted", alg)
			}
		}
	})
}

func TestParseSigningKey(t *testing.T) {
	t.Parallel()
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaSmall, _ := rsa.GenerateKey(rand.Reader, 1024)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	ecSEC1 := pemOf(t, "EC PRIVATE KEY")(sec1, nil)
	ecPKCS8 := pemOf(t, "PRIVATE KEY")(x509.MarshalPKCS8PrivateKey(ecKey))
	rsaPKCS1 := pemOf(t, "RSA PRIVATE KEY")(x509.MarshalPKCS1PrivateKey(rsaKey), nil)
	edPKCS8 := pemOf(t, "PRIVATE KEY")(x509.MarshalPKCS8PrivateKey(edKey))

	t.Run("accepted formats give the thumbprint of the same public key", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name, alg string
			data      []byte
			pub       any
		}{
			{"SEC 1 P-256", "ES256", ecSEC1, &ecKey.PublicKey},
			{"PKCS#8 P-256", "ES256", ecPKCS8, &ecKey.PublicKey},
			{"PKCS#1 RSA", "RS256", rsaPKCS1, &rsaKey.PublicKey},
			{"PKCS#8 Ed25519", "EdDSA", edPKCS8, edKey.Public()},
		} {
			k, err := ParseSigningKey(tc.alg, tc.data, testNow)
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			if want := thumbprint(publicJWK(tc.alg, tc.pub, "")); k.KID != want || !k.Active || k.Alg != tc.alg {
				t.Errorf("%s: %+v, want kid %s", tc.name, k, want)
			}
			if !strings.HasPrefix(string(k.Private), "-----BEGIN PRIVATE KEY-----") {
				t.Errorf("%s: not re-encoded as PKCS#8", tc.name)
			}
			if _, err := NewKeySet(tc.alg, []SigningKey{k}); err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
		}
	})
	t.Run("keys that do not fit are refused", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name, alg string
			data      []byte
		}{
			{"Ed25519 for ES256", "ES256", edPKCS8},
			{"P-256 for EdDSA", "EdDSA", ecSEC1},
			{"RSA for ES256", "ES256", rsaPKCS1},
			{"P-256 for RS256", "RS256", ecPKCS8},
			{"P-384 for ES256", "ES256", pemOf(t, "EC PRIVATE KEY")(x509.MarshalECPrivateKey(p384))},
			{"RSA 1024 for RS256", "RS256", pemOf(t, "RSA PRIVATE KEY")(x509.MarshalPKCS1PrivateKey(rsaSmall), nil)},
			{"a public key", "ES256", pemOf(t, "PUBLIC KEY")(x509.MarshalPKIXPublicKey(&ecKey.PublicKey))},
			{"a certificate block", "ES256", pemOf(t, "CERTIFICATE")([]byte("x"), nil)},
			{"a PKCS#8 label over SEC 1 bytes", "ES256", pemOf(t, "PRIVATE KEY")(sec1, nil)},
			{"no PEM at all", "EdDSA", []byte("not pem")},
			{"an empty file", "EdDSA", nil},
			{"a PEM key for an unknown algorithm", "PS256", edPKCS8},
			{"a 31-byte HS256 secret", "HS256", make([]byte, 31)},
			{"an empty HS256 secret", "HS256", nil},
		} {
			if _, err := ParseSigningKey(tc.alg, tc.data, testNow); err == nil {
				t.Errorf("%s: accepted", tc.name)
			}
		}
	})
	t.Run("an HS256 secret is taken byte for byte with a domain-separated kid", func(t *testing.T) {
		t.Parallel()
		secret := []byte("0123456789abcdef0123456789abcdef\n")
		k, err := ParseSigningKey("HS256", secret, testNow)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(append([]byte("authctl-hs256-kid:"), secret...))
		if want := base64.RawURLEncoding.EncodeToString(sum[:])[:22]; k.KID != want || string(k.Private) != string(secret) {
			t.Errorf("kid %s, want %s", k.KID, want)
		}
		secret[0] = 'X'
		if k.Private[0] == 'X' {
			t.Error("the key aliases the caller's buffer")
		}
	})
}

func TestThumbprintMatchesRFCExamples(t *testing.T) {
	t.Parallel()
	t.Run("Ed25519 from RFC 8037 appendix A.3", func(t *testing.T) {
		t.Parallel()
		x, _ := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
		if got := thumbprint(publicJWK("EdDSA", ed25519.PublicKey(x), "")); got != "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k" {
			t.Errorf("thumbprint %s", got)
		}
	})
	t.Run("RSA from RFC 7638 section 3.1", func(t *testing.T) {
		t.Parallel()
		n, _ := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}
		if got := thumbprint(publicJWK("RS256", pub, "")); got != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
			t.Errorf("thumbprint %s", got)
		}
	})
}
