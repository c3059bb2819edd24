package client

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestVerifyAgainstJWKS(t *testing.T) {
	t.Parallel()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks := fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","kid":"k1","x":%q}]}`,
		base64.RawURLEncoding.EncodeToString(pub))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(jwks)) }))
	t.Cleanup(srv.Close)

	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{
		"iss": "authctl", "aud": "authctl", "sub": "alice",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	})
	tok.Header["kid"] = "k1"
	signed, err := tok.SignedString(priv)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := FetchJWKS(context.Background(), srv.Client(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(signed, keys, VerifyOptions{Audience: "authctl", Issuer: "authctl"}); err != nil {
		t.Errorf("a valid token: %v", err)
	}
	for _, tc := range []struct {
		name string
		tok  string
		opts VerifyOptions
		want string
	}{
		{"an expired token says since when", signed, VerifyOptions{Now: now.Add(8 * time.Minute)}, "expired 3m"},
		{"another audience is refused", signed, VerifyOptions{Audience: "other"}, "wrong audience"},
		{"another issuer is refused", signed, VerifyOptions{Issuer: "other"}, "wrong issuer"},
		{"a tampered signature is refused", signed[:len(signed)-3] + "AAA", VerifyOptions{}, "signature invalid"},
		{"a pinned algorithm other than the key's is refused", signed, VerifyOptions{Alg: "RS256"}, ""},
		{"garbage is malformed", "x.y", VerifyOptions{}, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(tc.tok, keys, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Verify: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// FuzzJWKSAndVerify: a JWKS document and a token, both from elsewhere, never panic.
func FuzzJWKSAndVerify(f *testing.F) {
	f.Add(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`, "eyJhbGciOiJFZERTQSIsImtpZCI6ImsifQ.e30.AAAA")
	f.Add(`{"keys":[{"kty":"EC","crv":"P-256","kid":"k","x":"AA","y":"AA"}]}`, "a.b.c")
	f.Add(`{"keys":[{"kty":"RSA","kid":"k","n":"","e":""}]}`, "")
	f.Fuzz(func(t *testing.T, jwks, tok string) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(jwks)) }))
		defer srv.Close()
		keys, err := FetchJWKS(context.Background(), srv.Client(), srv.URL)
		if err != nil {
			return
		}
		Verify(tok, keys, VerifyOptions{})
	})
}
