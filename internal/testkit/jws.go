package testkit

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// Forge builds a token from a raw header and claims, signed with method and key (no
// signature when method is nil), so that tests can write headers, claims and signatures
// golang-jwt would not.
func Forge(t testing.TB, method jwt.SigningMethod, key any, header, claims map[string]any) string {
	t.Helper()
	enc := base64.RawURLEncoding
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	text := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	if method == nil {
		return text + "."
	}
	sig, err := method.Sign(text, key)
	if err != nil {
		t.Fatal(err)
	}
	return text + "." + enc.EncodeToString(sig)
}

// PEM wraps DER from an x509 marshaller in a PEM block of type label, as
// PEM(t, "PRIVATE KEY")(x509.MarshalPKCS8PrivateKey(k)).
func PEM(t testing.TB, label string) func(der []byte, err error) []byte {
	return func(der []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: label, Bytes: der})
	}
}
