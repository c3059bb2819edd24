package server

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/authctl/authctl/internal/testkit"
	"github.com/authctl/authctl/jose"
)

// b64 is base64url without padding, for tests that write tokens by hand.
func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

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
			if _, err := GenerateSigningKey(alg, testNow); err == nil || jose.ValidAlg(alg) {
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
	x25519, _ := ecdh.X25519().GenerateKey(rand.Reader)
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	ecSEC1 := testkit.PEM(t, "EC PRIVATE KEY")(sec1, nil)
	ecPKCS8 := testkit.PEM(t, "PRIVATE KEY")(x509.MarshalPKCS8PrivateKey(ecKey))
	rsaPKCS1 := testkit.PEM(t, "RSA PRIVATE KEY")(x509.MarshalPKCS1PrivateKey(rsaKey), nil)
	edPKCS8 := testkit.PEM(t, "PRIVATE KEY")(x509.MarshalPKCS8PrivateKey(edKey))

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
			if want, _ := jose.Thumbprint(tc.pub); k.KID != want || !k.Active || k.Alg != tc.alg {
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
			{"P-384 for ES256", "ES256", testkit.PEM(t, "EC PRIVATE KEY")(x509.MarshalECPrivateKey(p384))},
			{"an X25519 key", "EdDSA", testkit.PEM(t, "PRIVATE KEY")(x509.MarshalPKCS8PrivateKey(x25519))},
			{"RSA 1024 for RS256", "RS256", testkit.PEM(t, "RSA PRIVATE KEY")(x509.MarshalPKCS1PrivateKey(rsaSmall), nil)},
			{"a public key", "ES256", testkit.PEM(t, "PUBLIC KEY")(x509.MarshalPKIXPublicKey(&ecKey.PublicKey))},
			{"a certificate block", "ES256", testkit.PEM(t, "CERTIFICATE")([]byte("x"), nil)},
			{"a PKCS#8 label over SEC 1 bytes", "ES256", testkit.PEM(t, "PRIVATE KEY")(sec1, nil)},
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

// TestSigningKeysVerifyOffline: the key file the server signs with and what a client
// verifies with are read by one parser. For every algorithm, a token signed by a KeySet
// verifies with jose from the published JWKS, from the PEM public key, and from the
// stored PEM private key itself; and all of them name the key by the same kid.
func TestSigningKeysVerifyOffline(t *testing.T) {
	t.Parallel()
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			ks, k := newTestKeySet(t, alg)
			tok, err := ks.Sign(testClaims())
			if err != nil {
				t.Fatal(err)
			}
			opts := jose.VerifyOptions{Alg: alg, Issuer: "authctl", Audience: "authctl", Type: "at+jwt", Now: testNow}
			sources := map[string]func() (jose.Keys, error){}
			if alg == "HS256" {
				sources["the secret"] = func() (jose.Keys, error) { return jose.KeysFromSecret(k.Private), nil }
				if n := len(ks.JWKS().Keys); n != 0 {
					t.Errorf("the HS256 JWKS publishes %d keys", n)
				}
			} else {
				sources["the JWKS"] = func() (jose.Keys, error) {
					data, err := json.Marshal(ks.JWKS())
					if err != nil {
						return jose.Keys{}, err
					}
					return jose.KeysFromJWKS(data)
				}
				sources["the PEM public key"] = func() (jose.Keys, error) {
					pub, err := jose.ParsePublicKeyPEM(k.Private)
					if err != nil {
						return jose.Keys{}, err
					}
					if kid, err := jose.Thumbprint(pub); err != nil || kid != k.KID {
						t.Errorf("the public key's thumbprint is %s, the signing key's kid %s", kid, k.KID)
					}
					return jose.KeysFromPEM(testkit.PEM(t, "PUBLIC KEY")(x509.MarshalPKIXPublicKey(pub)))
				}
				sources["the PEM private key"] = func() (jose.Keys, error) { return jose.KeysFromPEM(k.Private) }
			}
			for name, keys := range sources {
				keys, err := keys()
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				c, err := jose.Verify(tok, keys, opts)
				if err != nil || c["sub"] != "1" || c["sid"] != "sid-1" {
					t.Errorf("%s: %v, %v", name, c, err)
				}
				if _, err := jose.Verify(tok, keys, jose.VerifyOptions{Now: testNow.Add(6 * time.Minute)}); err == nil || !strings.Contains(err.Error(), "expired 1m0s ago") {
					t.Errorf("%s: an expired token: %v", name, err)
				}
			}
			// And back: the server reads the file it stored as the same key.
			if p, err := ParseSigningKey(alg, k.Private, testNow); err != nil || p.KID != k.KID {
				t.Errorf("ParseSigningKey: %v, kid %s vs %s", err, p.KID, k.KID)
			}
		})
	}
}
