package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authctl/authctl/server"
)

func withServiceIssuer(iss string) option {
	return func(s *server.Config, _ *Config) { s.Issuer = iss }
}

// issOf is the iss claim of an access token, read without verifying (the server issued it).
func issOf(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return c.Iss
}

func TestMetadataComesFromTheConfiguration(t *testing.T) {
	t.Parallel()
	const path = "/.well-known/oauth-authorization-server"

	t.Run("a spoofed Host changes nothing, and the issuer is the tokens' iss", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t).serve(t)
		req, _ := http.NewRequest("GET", h.url+path, nil)
		req.Host = "evil.example" // what a client writes in Host is its own choice
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		a := answer{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
		m := a.json(t)
		iss := issOf(t, h.login(t, "alice", alicePassword).AccessToken)
		if m["issuer"] != iss || m["token_endpoint"] != iss+"/oauth/token" || m["jwks_uri"] != iss+"/.well-known/jwks.json" {
			t.Errorf("metadata %v; tokens say iss %q", m, iss)
		}
		if strings.Contains(a.Body, "evil.example") {
			t.Errorf("the Host header reached the metadata: %s", a.Body)
		}
		if cc := a.Header.Get("Cache-Control"); cc != "public, max-age=300" {
			t.Errorf("Cache-Control %q", cc)
		}
	})
	t.Run("the public URL is the base; the issuer stays what the tokens carry", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, withServiceIssuer("authctl"), withPublicURL("https://auth.example.com/")).serve(t)
		m := h.call(t, "GET", path, "", "").json(t)
		if m["issuer"] != "authctl" || m["token_endpoint"] != "https://auth.example.com/oauth/token" ||
			m["revocation_endpoint"] != "https://auth.example.com/oauth/revoke" {
			t.Errorf("%v", m)
		}
	})
	t.Run("neither a URL issuer nor a public URL: 404, not a guess from Host", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, withServiceIssuer("authctl")).serve(t)
		a := h.call(t, "GET", path, "", "")
		if a.Status != 404 || !strings.Contains(a.Body, "--public-url") {
			t.Errorf("%d %s", a.Status, a.Body)
		}
	})
	t.Run("an issuer with a path is also served at the RFC 8414 §3.1 location", func(t *testing.T) {
		t.Parallel()
		const iss = "https://example.com/tenant/a"
		h := newHarness(t, withServiceIssuer(iss)).serve(t)
		for _, p := range []string{path, path + "/tenant/a"} {
			a := h.call(t, "GET", p, "", "")
			if a.Status != 200 || a.json(t)["issuer"] != iss || a.json(t)["token_endpoint"] != iss+"/oauth/token" {
				t.Errorf("%s: %d %s", p, a.Status, a.Body)
			}
		}
	})
}

func TestTokenEndpointClientAuthentication(t *testing.T) {
	t.Parallel()
	h := newHarness(t).serve(t)
	body := "grant_type=refresh_token&refresh_token=" + strings.Repeat("A", 43)
	basic := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, c := range []struct {
		name, authorization string
		status              int
		code                string
	}{
		{"Basic that is not base64 is invalid_client", "Basic !!!not-base64!!!", 401, "invalid_client"},
		{"Basic without credentials is invalid_client", "Basic", 401, "invalid_client"},
		{"Basic without a colon is invalid_client", basic("authctl"), 401, "invalid_client"},
		{"basic in lower case is still Basic", "basic %%%", 401, "invalid_client"},
		{"Basic for another client is invalid_client", basic("other:"), 401, "invalid_client"},
		{"Basic for the public client proceeds to the grant", basic("authctl:"), 400, "invalid_grant"},
		{"another scheme is not client authentication", "Bearer x", 400, "invalid_grant"},
		{"no Authorization proceeds to the grant", "", 400, "invalid_grant"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var hdr []string
			if c.authorization != "" {
				hdr = []string{"Authorization", c.authorization}
			}
			for _, ep := range []string{"/oauth/token", "/oauth/revoke"} {
				b := body
				if ep == "/oauth/revoke" {
					b = "token=x"
				}
				a := h.call(t, "POST", ep, formType, b, hdr...)
				status, code := c.status, c.code
				if ep == "/oauth/revoke" && c.status != 401 {
					status, code = 200, "" // RFC 7009: unknown tokens are fine
				}
				if a.Status != status || a.errorCode() != code {
					t.Errorf("%s: %d %s", ep, a.Status, a.Body)
				}
				if status == 401 && !strings.HasPrefix(a.Header.Get("WWW-Authenticate"), "Basic") {
					t.Errorf("%s: 401 without a Basic challenge: %v", ep, a.Header)
				}
			}
		})
	}
}

func TestLivenessAndReadiness(t *testing.T) {
	t.Parallel()
	h := newHarness(t).serve(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		if a := h.call(t, "GET", p, "", ""); a.Status != 200 || strings.TrimSpace(a.Body) != `{"status":"ok"}` ||
			a.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%s: %d %v %s", p, a.Status, a.Header, a.Body)
		}
	}
	h.store.Close()

	t.Run("healthz is liveness: still 200, promptly, with the store gone", func(t *testing.T) {
		start := time.Now()
		a := h.call(t, "GET", "/healthz", "", "")
		if a.Status != 200 || time.Since(start) > time.Second {
			t.Errorf("%d after %v: %s", a.Status, time.Since(start), a.Body)
		}
	})
	t.Run("readyz is 503 with Retry-After and names no internals", func(t *testing.T) {
		for range 3 {
			a := h.call(t, "GET", "/readyz", "", "")
			if a.Status != 503 || a.errorCode() != "temporarily_unavailable" || a.Header.Get("Retry-After") == "" {
				t.Errorf("%d %v %s", a.Status, a.Header, a.Body)
			}
			if strings.Contains(a.Body, "sql") || strings.Contains(a.Body, ".db") {
				t.Errorf("internals in the answer: %s", a.Body)
			}
		}
		if n := strings.Count(h.logs.String(), `msg="not ready"`); n != 1 {
			t.Errorf("%d not-ready log lines for 3 probes; want 1 per change:\n%s", n, h.logs)
		}
	})
	t.Run("HEAD works on both", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/readyz"} {
			if a := h.call(t, http.MethodHead, p, "", ""); a.Status == 404 || a.Status == 405 {
				t.Errorf("HEAD %s: %d", p, a.Status)
			}
		}
	})
}
