package jose

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"strings"
	"sync"
	"testing"

	"github.com/authctl/authctl/internal/testkit"
)

// testKeys are generated once: RSA generation dominates the package's test time otherwise.
var testKeys = sync.OnceValue(func() (k struct {
	ed       ed25519.PrivateKey
	ec, p384 *ecdsa.PrivateKey
	rsa      *rsa.PrivateKey
	rsaSmall *rsa.PrivateKey
	x25519   *ecdh.PrivateKey
}) {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	var err error
	_, k.ed, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	k.p384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	must(err)
	k.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.rsaSmall, err = rsa.GenerateKey(rand.Reader, 1024)
	must(err)
	k.x25519, err = ecdh.X25519().GenerateKey(rand.Reader)
	must(err)
	return k
})

func TestValidAlg(t *testing.T) {
	t.Parallel()
	for _, alg := range Algorithms {
		if !ValidAlg(alg) {
			t.Errorf("%s refused", alg)
		}
	}
	for _, alg := range []string{"none", "None", "eddsa", "HS512", "PS256", "ES384", " EdDSA", ""} {
		if ValidAlg(alg) {
			t.Errorf("%q accepted", alg)
		}
	}
}

func TestAlgFor(t *testing.T) {
	t.Parallel()
	k := testKeys()
	for _, tc := range []struct {
		name string
		key  any
		want string // "" → refused
	}{
		{"an Ed25519 private key is EdDSA", k.ed, "EdDSA"},
		{"an Ed25519 public key is EdDSA", k.ed.Public(), "EdDSA"},
		{"a P-256 private key is ES256", k.ec, "ES256"},
		{"a P-256 public key is ES256", &k.ec.PublicKey, "ES256"},
		{"an RSA 2048 private key is RS256", k.rsa, "RS256"},
		{"an RSA 2048 public key is RS256", &k.rsa.PublicKey, "RS256"},
		{"a P-384 key is refused", &k.p384.PublicKey, ""},
		{"an RSA 1024 key is refused", &k.rsaSmall.PublicKey, ""},
		{"an X25519 key is refused", k.x25519, ""},
		{"bytes (an HMAC secret) are refused", []byte("0123456789abcdef0123456789abcdef"), ""},
		{"a short Ed25519 key is refused", ed25519.PublicKey(make([]byte, 31)), ""},
		{"a nil ECDSA key is refused", (*ecdsa.PublicKey)(nil), ""},
		{"a nil RSA key is refused", (*rsa.PublicKey)(nil), ""},
		{"nil is refused", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := AlgFor(tc.key)
			if got != tc.want || (err == nil) != (tc.want != "") {
				t.Errorf("AlgFor = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestCheckSigningKey(t *testing.T) {
	t.Parallel()
	k := testKeys()
	for _, tc := range []struct {
		alg string
		key crypto.Signer
		ok  bool
	}{
		{"EdDSA", k.ed, true},
		{"ES256", k.ec, true},
		{"RS256", k.rsa, true},
		{"ES256", k.ed, false},
		{"EdDSA", k.ec, false},
		{"ES256", k.rsa, false},
		{"RS256", k.ec, false},
		{"ES256", k.p384, false},
		{"RS256", k.rsaSmall, false},
		{"HS256", k.ed, false},
		{"PS256", k.rsa, false},
	} {
		if err := CheckSigningKey(tc.alg, tc.key); (err == nil) != tc.ok {
			t.Errorf("%T for %s: %v, want ok=%v", tc.key, tc.alg, err, tc.ok)
		}
	}
}

func TestParsePEM(t *testing.T) {
	t.Parallel()
	k := testKeys()
	sec1, err := x509.MarshalECPrivateKey(k.ec)
	if err != nil {
		t.Fatal(err)
	}
	privates := []struct {
		name string
		data []byte
		pub  crypto.PublicKey
	}{
		{"PKCS#8 Ed25519", testkit.PEM(t, "PRIVATE KEY")(x509.MarshalPKCS8PrivateKey(k.ed)), k.ed.Public()},
		{"PKCS#8 P-256", testkit.PEM(t, "PRIVATE KEY")(x509.MarshalPKCS8PrivateKey(k.ec)), &k.ec.PublicKey},
		{"SEC 1 P-256", testkit.PEM(t, "EC PRIVATE KEY")(sec1, nil), &k.ec.PublicKey},
		{"PKCS#8 RSA", testkit.PEM(t, "PRIVATE KEY")(x509.MarshalPKCS8PrivateKey(k.rsa)), &k.rsa.PublicKey},
		{"PKCS#1 RSA", testkit.PEM(t, "RSA PRIVATE KEY")(x509.MarshalPKCS1PrivateKey(k.rsa), nil), &k.rsa.PublicKey},
	}
	publics := []struct {
		name string
		data []byte
		pub  crypto.PublicKey
	}{
		{"PKIX Ed25519", testkit.PEM(t, "PUBLIC KEY")(x509.MarshalPKIXPublicKey(k.ed.Public())), k.ed.Public()},
		{"PKIX P-256", testkit.PEM(t, "PUBLIC KEY")(x509.MarshalPKIXPublicKey(&k.ec.PublicKey)), &k.ec.PublicKey},
		{"PKIX RSA", testkit.PEM(t, "PUBLIC KEY")(x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)), &k.rsa.PublicKey},
		{"PKCS#1 RSA", testkit.PEM(t, "RSA PUBLIC KEY")(x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey), nil), &k.rsa.PublicKey},
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }

	t.Run("private keys sign, and verify as their public half", func(t *testing.T) {
		t.Parallel()
		for _, tc := range privates {
			signer, err := ParsePrivateKeyPEM(tc.data)
			if err != nil || !signer.Public().(equaler).Equal(tc.pub) {
				t.Errorf("%s: ParsePrivateKeyPEM: %v", tc.name, err)
			}
			pub, err := ParsePublicKeyPEM(tc.data)
			if err != nil || !pub.(equaler).Equal(tc.pub) {
				t.Errorf("%s: ParsePublicKeyPEM: %v", tc.name, err)
			}
		}
	})
	t.Run("public keys verify but never sign", func(t *testing.T) {
		t.Parallel()
		for _, tc := range publics {
			pub, err := ParsePublicKeyPEM(tc.data)
			if err != nil || !pub.(equaler).Equal(tc.pub) {
				t.Errorf("%s: ParsePublicKeyPEM: %v", tc.name, err)
			}
			if _, err := ParsePrivateKeyPEM(tc.data); err == nil || !strings.Contains(err.Error(), "not a private signing key") {
				t.Errorf("%s: ParsePrivateKeyPEM: %v, want a refusal", tc.name, err)
			}
		}
	})
	t.Run("what is not a key is refused by both", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name string
			data []byte
		}{
			{"a certificate block", testkit.PEM(t, "CERTIFICATE")([]byte("x"), nil)},
			{"a PKCS#8 label over SEC 1 bytes", testkit.PEM(t, "PRIVATE KEY")(sec1, nil)},
			{"an SEC 1 label over PKCS#8 bytes", testkit.PEM(t, "EC PRIVATE KEY")(x509.MarshalPKCS8PrivateKey(k.ec))},
			{"an X25519 key", testkit.PEM(t, "PRIVATE KEY")(x509.MarshalPKCS8PrivateKey(k.x25519))},
			{"truncated DER", testkit.PEM(t, "PRIVATE KEY")(sec1[:20], nil)},
			{"no PEM at all", []byte("not pem")},
			{"an empty file", nil},
		} {
			if _, err := ParsePrivateKeyPEM(tc.data); err == nil {
				t.Errorf("%s: ParsePrivateKeyPEM accepted it", tc.name)
			}
			if _, err := ParsePublicKeyPEM(tc.data); err == nil {
				t.Errorf("%s: ParsePublicKeyPEM accepted it", tc.name)
			}
		}
	})
}
