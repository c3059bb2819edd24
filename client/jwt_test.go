package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestVerifyAgainstJWKS(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, "")
	c := loggedIn(t, ts, nilStore(t))
	s, _ := c.Session(context.Background())
	keys, err := FetchJWKS(context.Background(), http.DefaultClient, ts.URL+"/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(s.AccessToken, keys, VerifyOptions{Audience: "authctl", Issuer: "authctl"}); err != nil {
		t.Errorf("valid token: %v", err)
	}
	for name, c := range map[string]struct {
		tok  string
		opts VerifyOptions
		want string
	}{
		"expired":        {s.AccessToken, VerifyOptions{Now: time.Now().Add(8 * time.Minute)}, "expired 3m"},
		"wrong audience": {s.AccessToken, VerifyOptions{Audience: "other"}, "wrong audience"},
		"wrong issuer":   {s.AccessToken, VerifyOptions{Issuer: "other"}, "wrong issuer"},
		"tampered":       {s.AccessToken[:len(s.AccessToken)-3] + "AAA", VerifyOptions{}, "signature invalid"},
		"pinned alg":     {s.AccessToken, VerifyOptions{Alg: "RS256"}, ""},
		"garbage":        {"x.y", VerifyOptions{}, "malformed"},
	} {
		_, err := Verify(c.tok, keys, c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v (want %q)", name, err, c.want)
		}
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
