package client

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authctl/authctl/jose"
)

func TestFetchJWKS(t *testing.T) {
	t.Parallel()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk, err := jose.PublicJWK("EdDSA", pub, "k1")
	if err != nil {
		t.Fatal(err)
	}
	set, err := json.Marshal(jose.JWKSet{Keys: []jose.JWK{jwk}})
	if err != nil {
		t.Fatal(err)
	}
	serve := func(status int, body string) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	ctx := context.Background()

	t.Run("a served set verifies the tokens of its keys", func(t *testing.T) {
		t.Parallel()
		srv := serve(http.StatusOK, string(set))
		keys, err := FetchJWKS(ctx, srv.Client(), srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{"sub": "alice", "exp": now.Add(time.Minute).Unix()})
		tok.Header["kid"] = "k1"
		signed, err := tok.SignedString(priv)
		if err != nil {
			t.Fatal(err)
		}
		if c, err := jose.Verify(signed, keys, jose.VerifyOptions{Now: now}); err != nil || c["sub"] != "alice" {
			t.Errorf("Verify: %v, %v", c, err)
		}
	})
	t.Run("an error answer is an *Error with the server's status", func(t *testing.T) {
		t.Parallel()
		srv := serve(http.StatusServiceUnavailable, `{"error":"temporarily_unavailable"}`)
		_, err := FetchJWKS(ctx, srv.Client(), srv.URL)
		var e *Error
		if !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable || e.Code != "temporarily_unavailable" {
			t.Errorf("FetchJWKS: %v, want an *Error with status 503", err)
		}
	})
	t.Run("an unreachable server is ErrOffline", func(t *testing.T) {
		t.Parallel()
		srv := serve(http.StatusOK, string(set))
		srv.Close()
		if _, err := FetchJWKS(ctx, srv.Client(), srv.URL); !errors.Is(err, ErrOffline) {
			t.Errorf("FetchJWKS: %v, want ErrOffline", err)
		}
	})
	for _, tc := range []struct {
		name, body, want string
	}{
		{"an HTML page is not a JWKS", "<html>", "parse JWKS"},
		{"an empty set (an HS256 server) has nothing to verify with", `{"keys":[]}`, "no usable keys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := serve(http.StatusOK, tc.body)
			_, err := FetchJWKS(ctx, srv.Client(), srv.URL)
			if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, ErrOffline) {
				t.Errorf("FetchJWKS: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
