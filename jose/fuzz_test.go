package jose

import (
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authctl/authctl/internal/testkit"
)

type equaler interface{ Equal(crypto.PublicKey) bool }

// FuzzParsePEM: a key file from anywhere never panics, and the signing and the verifying
// side read it alike: whatever ParsePrivateKeyPEM accepts, ParsePublicKeyPEM and
// KeysFromPEM read as the same public key, pinned to the same algorithm.
func FuzzParsePEM(f *testing.F) {
	seed := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	der, _ := x509.MarshalPKCS8PrivateKey(seed)
	f.Add(string(pemBytes("PRIVATE KEY", der)))
	f.Fuzz(func(t *testing.T, data string) {
		signer, privErr := ParsePrivateKeyPEM([]byte(data))
		pub, pubErr := ParsePublicKeyPEM([]byte(data))
		keys, keysErr := KeysFromPEM([]byte(data))
		if privErr != nil {
			return
		}
		if pubErr != nil || !signer.Public().(equaler).Equal(pub) {
			t.Fatalf("a private key the signer takes does not give its public half: %v", pubErr)
		}
		alg, algErr := AlgFor(signer)
		if (algErr == nil) != (keysErr == nil) {
			t.Fatalf("AlgFor: %v, KeysFromPEM: %v", algErr, keysErr)
		}
		if algErr == nil && (keys.one.alg != alg || CheckSigningKey(alg, signer) != nil) {
			t.Fatalf("signs as %s, verifies as %s", alg, keys.one.alg)
		}
	})
}

// FuzzJWKSAndVerify: a JWKS document and a token, both from elsewhere, never panic; every
// key taken from the set encodes back to a JWK that reads as the same key.
func FuzzJWKSAndVerify(f *testing.F) {
	f.Add(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`, "eyJhbGciOiJFZERTQSIsImtpZCI6ImsifQ.e30.AAAA")
	f.Fuzz(func(t *testing.T, jwks, tok string) {
		keys, err := KeysFromJWKS([]byte(jwks))
		if err != nil {
			return
		}
		for kid, k := range keys.byKID {
			j, err := PublicJWK(k.alg, k.key, kid)
			if err != nil {
				t.Fatalf("kid %q: a key read from a JWKS does not encode: %v", kid, err)
			}
			alg, pub, err := j.PublicKey()
			if err != nil || alg != k.alg || !pub.(equaler).Equal(k.key.(crypto.PublicKey)) {
				t.Fatalf("kid %q: %s key does not round-trip: %v", kid, k.alg, err)
			}
		}
		Verify(tok, keys, VerifyOptions{})
	})
}

// fuzzKey signs the one token FuzzVerify knows; Ed25519 signatures are deterministic, so
// the committed seed corpus holds that very token.
var fuzzKey = ed25519.NewKeyFromSeed([]byte("authctl jose fuzz key, 32 bytes!"))

// FuzzVerify: of all the strings the fuzzer makes, only the signed token itself (give or
// take surrounding white space) verifies; no other spelling of its bytes, header or
// signature does.
func FuzzVerify(f *testing.F) {
	valid := fuzzToken(f)
	f.Add(valid)
	keys, err := KeysFromPEM(pemBytes("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(fuzzKey))))
	if err != nil {
		f.Fatal(err)
	}
	opts := VerifyOptions{Now: testNow, Issuer: "authctl", Audience: "authctl", Type: "at+jwt"}
	if _, err := Verify(valid, keys, opts); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		if _, err := Verify(tok, keys, opts); err == nil && strings.TrimSpace(tok) != valid {
			t.Fatalf("verified a token that was never signed: %q", tok)
		}
	})
}

func fuzzToken(t testing.TB) string {
	return testkit.Forge(t, jwt.SigningMethodEdDSA, fuzzKey, map[string]any{"alg": "EdDSA", "kid": "k1", "typ": "at+jwt"}, goodClaims())
}

func pemBytes(label string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: label, Bytes: der})
}

func must(der []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return der
}
