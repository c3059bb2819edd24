package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authctl/authctl/server"
)

func withWeb(on bool) option {
	return func(_ *server.Config, c *Config) { c.Web = on }
}

func withPublicURL(u string) option {
	return func(_ *server.Config, c *Config) { c.PublicURL = u }
}

// browserCall sends a browser-mode request over real HTTP, as the built-in page's fetch
// does: the custom header, the page's Origin, the cookie (if any) and extra header pairs.
func (h *harness) browserCall(t *testing.T, path, cookie string, header ...string) answer {
	t.Helper()
	hdr := append([]string{browserHeader, "1", "Origin", h.url}, header...)
	if cookie != "" {
		hdr = append(hdr, "Cookie", cookieName+"="+cookie)
	}
	return h.call(t, "POST", path, "", "", hdr...)
}

// browserLogin logs alice in through the browser mode and returns the answer.
func (h *harness) browserLogin(t *testing.T, header ...string) answer {
	t.Helper()
	hdr := append([]string{browserHeader, "1", "Origin", h.url}, header...)
	return h.call(t, "POST", "/api/auth/login", jsonType, `{"username":"alice","password":"`+alicePassword+`"}`, hdr...)
}

// setCookie returns the one Set-Cookie of the answer named name, nil if there is none.
func setCookie(t *testing.T, a answer, name string) *http.Cookie {
	t.Helper()
	var found *http.Cookie
	for _, line := range a.Header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("Set-Cookie %q: %v", line, err)
		}
		if c.Name == name {
			if found != nil {
				t.Fatalf("two Set-Cookie lines for %s", name)
			}
			found = c
		}
	}
	return found
}

func TestBrowserModeLogin(t *testing.T) {
	t.Parallel()
	h := newHarness(t).serve(t)

	t.Run("the refresh token goes into an HttpOnly SameSite=Strict cookie, not the body", func(t *testing.T) {
		t.Parallel()
		a := h.browserLogin(t)
		if a.Status != http.StatusOK {
			t.Fatalf("%d %s", a.Status, a.Body)
		}
		body := a.json(t)
		if _, ok := body["refresh_token"]; ok {
			t.Errorf("body carries a refresh token: %s", a.Body)
		}
		if body["access_token"] == "" || body["token_type"] != "Bearer" || body["refresh_expires_in"] != float64(720*3600) {
			t.Errorf("body %s", a.Body)
		}
		c := setCookie(t, a, cookieName)
		if c == nil {
			t.Fatalf("no cookie: %v", a.Header)
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/api/auth" || c.Domain != "" || c.Secure {
			t.Errorf("cookie attributes %+v", c)
		}
		if c.MaxAge != 720*3600 || len(c.Value) < 43 {
			t.Errorf("Max-Age %d, value of %d characters", c.MaxAge, len(c.Value))
		}
		if a.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q", a.Header.Get("Cache-Control"))
		}
	})
	t.Run("without the header the JSON contract is unchanged and no cookie is set", func(t *testing.T) {
		t.Parallel()
		a := h.call(t, "POST", "/api/auth/login", jsonType, `{"username":"alice","password":"`+alicePassword+`"}`, "Origin", h.url)
		if a.Status != http.StatusOK || a.json(t)["refresh_token"] == nil || len(a.Header.Values("Set-Cookie")) != 0 {
			t.Errorf("%d %v %s", a.Status, a.Header, a.Body)
		}
	})
	t.Run("a wrong password sets no cookie", func(t *testing.T) {
		t.Parallel()
		a := h.call(t, "POST", "/api/auth/login", jsonType, `{"username":"alice","password":"wrong"}`, browserHeader, "1", "Origin", h.url)
		if a.Status != http.StatusUnauthorized || len(a.Header.Values("Set-Cookie")) != 0 {
			t.Errorf("%d %v", a.Status, a.Header)
		}
	})
	t.Run("a login from another origin is refused before the password is checked", func(t *testing.T) {
		t.Parallel()
		a := h.browserLogin(t, "Origin", "http://evil.example")
		if a.Status != http.StatusForbidden || len(a.Header.Values("Set-Cookie")) != 0 {
			t.Errorf("%d %v %s", a.Status, a.Header, a.Body)
		}
	})
}

func TestBrowserModeRefreshAndLogout(t *testing.T) {
	t.Parallel()
	h := newHarness(t).serve(t)
	login := func(t *testing.T) string {
		t.Helper()
		a := h.browserLogin(t)
		c := setCookie(t, a, cookieName)
		if a.Status != http.StatusOK || c == nil {
			t.Fatalf("login: %d %s", a.Status, a.Body)
		}
		return c.Value
	}

	t.Run("a refresh rotates the cookie and answers the access token only", func(t *testing.T) {
		t.Parallel()
		rt := login(t)
		a := h.browserCall(t, "/api/auth/refresh", rt)
		c := setCookie(t, a, cookieName)
		if a.Status != http.StatusOK || c == nil || c.Value == rt || c.MaxAge <= 0 {
			t.Fatalf("%d %v %s", a.Status, a.Header, a.Body)
		}
		if strings.Contains(a.Body, "refresh_token") || strings.Contains(a.Body, c.Value) {
			t.Errorf("body carries the refresh token: %s", a.Body)
		}
		if w := h.call(t, "GET", "/api/weather", "", "", bearer(a.json(t)["access_token"].(string))...); w.Status != http.StatusOK {
			t.Errorf("the new access token: %d", w.Status)
		}
		// The successor is a real refresh token: the JSON API accepts it too.
		if n := h.call(t, "POST", "/api/auth/refresh", jsonType, `{"refresh_token":"`+c.Value+`"}`); n.Status != http.StatusOK {
			t.Errorf("successor refused: %d %s", n.Status, n.Body)
		}
	})
	t.Run("the body is not read in browser mode and without a cookie there is no session", func(t *testing.T) {
		t.Parallel()
		tok := h.login(t, "alice", alicePassword)
		a := h.call(t, "POST", "/api/auth/refresh", jsonType, `{"refresh_token":"`+tok.RefreshToken+`"}`, browserHeader, "1", "Origin", h.url)
		if a.Status != http.StatusBadRequest || a.errorCode() != "invalid_request" || !strings.Contains(a.Body, "no session cookie") {
			t.Errorf("%d %s", a.Status, a.Body)
		}
	})
	t.Run("without the header the cookie is never read", func(t *testing.T) {
		t.Parallel()
		rt := login(t)
		a := h.call(t, "POST", "/api/auth/refresh", jsonType, `{}`, "Cookie", cookieName+"="+rt, "Origin", h.url)
		if a.Status != http.StatusBadRequest || a.errorCode() != "invalid_request" || len(a.Header.Values("Set-Cookie")) != 0 {
			t.Errorf("%d %s", a.Status, a.Body)
		}
		// Nor by the other endpoints that take refresh tokens.
		if a := h.call(t, "POST", "/oauth/token", formType, "grant_type=refresh_token", "Cookie", cookieName+"="+rt); a.Status != http.StatusBadRequest {
			t.Errorf("/oauth/token: %d %s", a.Status, a.Body)
		}
		if a := h.browserCall(t, "/api/auth/refresh", rt); a.Status != http.StatusOK {
			t.Errorf("the cookie was spent: %d %s", a.Status, a.Body)
		}
	})
	t.Run("logout revokes the session and deletes the cookie", func(t *testing.T) {
		t.Parallel()
		rt := login(t)
		a := h.browserCall(t, "/api/auth/logout", rt)
		c := setCookie(t, a, cookieName)
		if a.Status != http.StatusNoContent || c == nil || c.MaxAge >= 0 || c.Value != "" {
			t.Fatalf("%d %+v", a.Status, c)
		}
		if !strings.Contains(strings.Join(a.Header.Values("Set-Cookie"), ""), "Max-Age=0") {
			t.Errorf("Set-Cookie %q", a.Header.Values("Set-Cookie"))
		}
		if n := h.call(t, "POST", "/api/auth/refresh", jsonType, `{"refresh_token":"`+rt+`"}`); n.Status != http.StatusBadRequest || n.errorCode() != "invalid_grant" {
			t.Errorf("refresh token after logout: %d %s", n.Status, n.Body)
		}
		if a := h.browserCall(t, "/api/auth/logout", rt); a.Status != http.StatusNoContent {
			t.Errorf("logging out twice: %d %s", a.Status, a.Body)
		}
		if a := h.browserCall(t, "/api/auth/logout", ""); a.Status != http.StatusNoContent || setCookie(t, a, cookieName) == nil {
			t.Errorf("logout without a cookie: %d %v", a.Status, a.Header)
		}
	})
	t.Run("a refused cookie is deleted so that the browser stops sending it", func(t *testing.T) {
		t.Parallel()
		rt := login(t)
		if a := h.call(t, "POST", "/oauth/revoke", formType, "token="+rt); a.Status != http.StatusOK {
			t.Fatalf("revoke: %d", a.Status)
		}
		a := h.browserCall(t, "/api/auth/refresh", rt)
		c := setCookie(t, a, cookieName)
		if a.Status != http.StatusBadRequest || a.errorCode() != "invalid_grant" || c == nil || c.MaxAge >= 0 {
			t.Errorf("%d %v %s", a.Status, a.Header, a.Body)
		}
	})
}

// TestBrowserModeCSRF checks that a cookie-carrying call is refused unless it provably comes
// from the server's own page, and that a refused call spends nothing.
func TestBrowserModeCSRF(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withCORS(classicOrigin)).serve(t)
	const self = "self" // stands for the server's own origin
	cases := []struct {
		name         string
		origin, site string // "" leaves the header out
		status       int
	}{
		{"the page's own Origin passes", self, "", http.StatusOK},
		{"Sec-Fetch-Site same-origin alone passes", "", "same-origin", http.StatusOK},
		{"both, agreeing, pass", self, "same-origin", http.StatusOK},
		{"another site's Origin is refused", "http://evil.example", "", http.StatusForbidden},
		{"an origin allowed by --cors-origin is still refused", classicOrigin, "", http.StatusForbidden},
		{"a null Origin is refused", "null", "", http.StatusForbidden},
		{"Sec-Fetch-Site cross-site is refused", "", "cross-site", http.StatusForbidden},
		{"Sec-Fetch-Site same-site is refused", "", "same-site", http.StatusForbidden},
		{"same-origin Sec-Fetch-Site with a foreign Origin is refused", "http://evil.example", "same-origin", http.StatusForbidden},
		{"our Origin with Sec-Fetch-Site cross-site is refused", self, "cross-site", http.StatusForbidden},
		{"neither Origin nor Sec-Fetch-Site is refused", "", "", http.StatusForbidden},
	}
	for _, path := range []string{"/api/auth/refresh", "/api/auth/logout"} {
		for _, c := range cases {
			t.Run(path+": "+c.name, func(t *testing.T) {
				t.Parallel()
				login := h.browserLogin(t)
				rt := setCookie(t, login, cookieName).Value
				req, _ := http.NewRequest("POST", h.url+path, nil)
				req.Header.Set(browserHeader, "1")
				req.Header.Set("Cookie", cookieName+"="+rt)
				if c.origin == self {
					req.Header.Set("Origin", h.url)
				} else if c.origin != "" {
					req.Header.Set("Origin", c.origin)
				}
				if c.site != "" {
					req.Header.Set("Sec-Fetch-Site", c.site)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				want := c.status
				if want == http.StatusOK && path == "/api/auth/logout" {
					want = http.StatusNoContent
				}
				if resp.StatusCode != want {
					t.Fatalf("status %d, want %d: %s", resp.StatusCode, want, body)
				}
				if want == http.StatusForbidden {
					if len(resp.Header.Values("Set-Cookie")) != 0 {
						t.Errorf("a refused call touched the cookie: %v", resp.Header.Values("Set-Cookie"))
					}
					// Nothing was spent or revoked: the cookie's token still rotates.
					if a := h.browserCall(t, "/api/auth/refresh", rt); a.Status != http.StatusOK {
						t.Errorf("the refused call spent the session: %d %s", a.Status, a.Body)
					}
				}
			})
		}
	}
}

// TestBrowserModeCookieLifetime: the cookie never outlives the session's absolute expiry.
func TestBrowserModeCookieLifetime(t *testing.T) {
	t.Parallel()
	h := newHarness(t).serve(t)
	rt := setCookie(t, h.browserLogin(t), cookieName).Value
	h.clock.Advance(700 * time.Hour)
	a := h.browserCall(t, "/api/auth/refresh", rt)
	c := setCookie(t, a, cookieName)
	if a.Status != http.StatusOK || c == nil {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
	if c.MaxAge <= 0 || c.MaxAge > 20*3600 {
		t.Errorf("Max-Age %d after 700 h of a 720 h session, want at most %d", c.MaxAge, 20*3600)
	}
	var body browserTokens
	if err := json.Unmarshal([]byte(a.Body), &body); err != nil || body.RefreshExpiresIn != c.MaxAge {
		t.Errorf("refresh_expires_in %d, Max-Age %d", body.RefreshExpiresIn, c.MaxAge)
	}
}

// TestBrowserModeTLS: under TLS the cookie takes the __Host- prefix, Secure and Path=/, from
// the connection itself or from an https public URL behind a proxy.
func TestBrowserModeTLS(t *testing.T) {
	t.Parallel()
	check := func(t *testing.T, a answer) string {
		t.Helper()
		c := setCookie(t, a, secureCookieName)
		if a.Status != http.StatusOK || c == nil {
			t.Fatalf("%d %v %s", a.Status, a.Header, a.Body)
		}
		if !c.Secure || c.Path != "/" || c.Domain != "" || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
			t.Errorf("cookie %+v", c)
		}
		if setCookie(t, a, cookieName) != nil {
			t.Error("the plain-http cookie was set too")
		}
		return c.Value
	}
	t.Run("a TLS connection", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		srv := httptest.NewTLSServer(h.handler)
		t.Cleanup(srv.Close)
		do := func(path, body string, cookie string) answer {
			req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
			req.Header.Set("Content-Type", jsonType)
			req.Header.Set(browserHeader, "1")
			req.Header.Set("Origin", srv.URL)
			if cookie != "" {
				req.Header.Set("Cookie", secureCookieName+"="+cookie)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return answer{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
		}
		rt := check(t, do("/api/auth/login", `{"username":"alice","password":"`+alicePassword+`"}`, ""))
		check(t, do("/api/auth/refresh", "", rt))
	})
	t.Run("an https public URL behind a proxy", func(t *testing.T) {
		t.Parallel()
		const public = "https://auth.example"
		h := newHarness(t, withPublicURL(public+"/"))
		login := h.record("POST", "/api/auth/login", jsonType, `{"username":"alice","password":"`+alicePassword+`"}`, browserHeader, "1", "Origin", public)
		rt := check(t, login)
		if a := h.record("POST", "/api/auth/refresh", "", "", browserHeader, "1", "Origin", "http://example.com", "Cookie", secureCookieName+"="+rt); a.Status != http.StatusForbidden {
			t.Errorf("the request's own Host was trusted over the public URL: %d %s", a.Status, a.Body)
		}
		check(t, h.record("POST", "/api/auth/refresh", "", "", browserHeader, "1", "Origin", public, "Cookie", secureCookieName+"="+rt))
	})
}
