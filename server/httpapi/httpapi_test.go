package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authctl/authctl/server"
)

func TestNativeAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t).serve(t)

	a := h.call(t, "POST", "/api/auth/login", jsonType, `{"username":"alice","password":"`+alicePassword+`"}`)
	if a.Status != 200 {
		t.Fatalf("login: %d %s", a.Status, a.Body)
	}
	t.Run("a token response carries no-store and the RFC 6749 fields", func(t *testing.T) {
		if a.Header.Get("Cache-Control") != "no-store" || a.Header.Get("Pragma") != "no-cache" {
			t.Errorf("caching headers: %v", a.Header)
		}
		m := a.json(t)
		if m["token_type"] != "Bearer" || m["expires_in"] != 300.0 || m["refresh_expires_in"] != float64(720*3600) ||
			m["access_token"] == "" || m["refresh_token"] == "" || len(m) != 5 {
			t.Errorf("token response: %v", m)
		}
	})
	var tok tokenResponse
	if err := json.Unmarshal([]byte(a.Body), &tok); err != nil {
		t.Fatal(err)
	}

	t.Run("me describes the token's user and session", func(t *testing.T) {
		m := h.call(t, "GET", "/api/auth/me", "", "", bearer(tok.AccessToken)...).json(t)
		if m["name"] != "alice" || m["role"] != "user" || m["sub"] == "" || m["sid"] == "" ||
			m["exp"] != float64(h.clock.Now().Add(5*time.Minute).Unix()) {
			t.Errorf("me: %v", m)
		}
	})

	t.Run("weather gives N days from tomorrow, default 5", func(t *testing.T) {
		for _, c := range []struct {
			query string
			days  int
		}{{"", 5}, {"?days=1", 1}, {"?days=14", 14}} {
			a := h.call(t, "GET", "/api/weather"+c.query, "", "", bearer(tok.AccessToken)...)
			var fc []forecast
			if err := json.Unmarshal([]byte(a.Body), &fc); err != nil || a.Status != 200 || len(fc) != c.days {
				t.Fatalf("%q: %d %s", c.query, a.Status, a.Body)
			}
			for i, f := range fc {
				if want := h.clock.Now().AddDate(0, 0, i+1).Format(time.DateOnly); f.Date != want {
					t.Errorf("day %d is %s, want %s", i, f.Date, want)
				}
				if f.TemperatureC < -20 || f.TemperatureC > 54 || f.TemperatureF != fahrenheit(f.TemperatureC) ||
					!slices.Contains(summaries[:], f.Summary) {
					t.Errorf("forecast %+v", f)
				}
			}
		}
	})

	t.Run("weather refuses days outside 1 to 14", func(t *testing.T) {
		for _, days := range []string{"0", "15", "-1", "x", "1.5", "+3", " 3", "99999999999999999999"} {
			a := h.call(t, "GET", "/api/weather?days="+url.QueryEscape(days), "", "", bearer(tok.AccessToken)...)
			if a.Status != 400 || a.errorCode() != "invalid_request" {
				t.Errorf("days=%q: %d %s", days, a.Status, a.Body)
			}
		}
	})

	var rotated tokenResponse
	t.Run("refresh rotates the refresh token", func(t *testing.T) {
		a := h.call(t, "POST", "/api/auth/refresh", jsonType, `{"refresh_token":"`+tok.RefreshToken+`"}`)
		if a.Status != 200 || a.Header.Get("Cache-Control") != "no-store" || a.Header.Get("Pragma") != "no-cache" {
			t.Fatalf("refresh: %d %v %s", a.Status, a.Header, a.Body)
		}
		if err := json.Unmarshal([]byte(a.Body), &rotated); err != nil || rotated.RefreshToken == tok.RefreshToken || rotated.TokenType != "Bearer" {
			t.Fatalf("refresh answer: %s", a.Body)
		}
	})

	t.Run("logout revokes the session and its access tokens", func(t *testing.T) {
		if a := h.call(t, "POST", "/api/auth/logout", jsonType, `{"refresh_token":"`+rotated.RefreshToken+`"}`); a.Status != 204 || a.Body != "" {
			t.Fatalf("logout: %d %s", a.Status, a.Body)
		}
		a := h.call(t, "GET", "/api/auth/me", "", "", bearer(rotated.AccessToken)...)
		if a.Status != 401 || !strings.Contains(a.Header.Get("WWW-Authenticate"), `error="invalid_token"`) || a.Header.Get("IS-TOKEN-EXPIRED") != "" {
			t.Errorf("access token after logout: %d %v", a.Status, a.Header)
		}
		a = h.call(t, "POST", "/api/auth/refresh", jsonType, `{"refresh_token":"`+rotated.RefreshToken+`"}`)
		if a.Status != 400 || a.errorCode() != "invalid_grant" {
			t.Errorf("refresh after logout: %d %s", a.Status, a.Body)
		}
		a = h.call(t, "POST", "/api/auth/logout", jsonType, `{"refresh_token":"`+rotated.RefreshToken+`"}`)
		if a.Status != 204 {
			t.Errorf("second logout of a revoked session: %d %s", a.Status, a.Body)
		}
	})

	t.Run("logout of an unknown token is invalid_grant", func(t *testing.T) {
		a := h.call(t, "POST", "/api/auth/logout", jsonType, `{"refresh_token":"`+strings.Repeat("A", 43)+`"}`)
		if a.Status != 400 || a.errorCode() != "invalid_grant" {
			t.Errorf("%d %s", a.Status, a.Body)
		}
	})
}

// TestClassicFlow is the Angular interceptor's life: log in, call the API, see the token
// expire, refresh with the expired token and the refresh token, call again.
func TestClassicFlow(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withCORS("http://localhost:4200")).serve(t)
	origin := []string{"Origin", "http://localhost:4200"}

	a := h.call(t, "POST", "/api/JWT/jwtauth", jsonType, `{"UserName":"alice","Password":"`+alicePassword+`"}`, origin...)
	if a.Status != 200 || a.Header.Get("Cache-Control") != "no-store" || a.Header.Get("Access-Control-Allow-Origin") != "http://localhost:4200" {
		t.Fatalf("jwtauth: %d %v %s", a.Status, a.Header, a.Body)
	}
	var classic classicTokens
	if err := json.Unmarshal([]byte(a.Body), &classic); err != nil || classic.Token == "" || classic.RefreshToken == "" || len(a.json(t)) != 2 {
		t.Fatalf("jwtauth answer: %s", a.Body)
	}

	a = h.call(t, "GET", "/api/WeatherForecast", "", "", append(bearer(classic.Token), origin...)...)
	var fc []forecast
	if err := json.Unmarshal([]byte(a.Body), &fc); a.Status != 200 || err != nil || len(fc) != 5 {
		t.Fatalf("WeatherForecast: %d %s", a.Status, a.Body)
	}

	h.clock.Advance(5*time.Minute + time.Second)
	a = h.call(t, "GET", "/api/WeatherForecast", "", "", append(bearer(classic.Token), origin...)...)
	if a.Status != 401 || a.Header.Get("IS-TOKEN-EXPIRED") != "true" ||
		a.Header.Get("WWW-Authenticate") != `Bearer error="invalid_token", error_description="the access token expired"` {
		t.Fatalf("expired token: %d %v", a.Status, a.Header)
	}
	if !strings.Contains(a.Header.Get("Access-Control-Expose-Headers"), "IS-TOKEN-EXPIRED") {
		t.Errorf("IS-TOKEN-EXPIRED is not exposed to the page: %v", a.Header)
	}

	t.Run("another user's expired token cannot refresh the session", func(t *testing.T) {
		h.clock.Advance(-5*time.Minute - time.Second)
		bobs := h.login(t, "bob", bobPassword)
		h.clock.Advance(5*time.Minute + time.Second)
		a := h.call(t, "POST", "/api/JWT/refreshjwt", jsonType, fmt.Sprintf(`{"jwtToken":%q,"refreshToken":%q}`, bobs.AccessToken, classic.RefreshToken))
		if a.Status != 400 || a.errorCode() != "invalid_grant" {
			t.Errorf("%d %s", a.Status, a.Body)
		}
	})

	a = h.call(t, "POST", "/api/JWT/refreshjwt", jsonType, fmt.Sprintf(`{"JWTTOKEN":%q,"refreshtoken":%q}`, classic.Token, classic.RefreshToken), origin...)
	if a.Status != 200 || a.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("refreshjwt: %d %s", a.Status, a.Body)
	}
	var fresh classicTokens
	if err := json.Unmarshal([]byte(a.Body), &fresh); err != nil || fresh.RefreshToken == classic.RefreshToken {
		t.Fatalf("refreshjwt answer: %s", a.Body)
	}
	a = h.call(t, "GET", "/api/WeatherForecast", "", "", "Authorization", "BEARER "+fresh.Token)
	if a.Status != 200 {
		t.Errorf("WeatherForecast with the refreshed token, scheme in capitals: %d %s", a.Status, a.Body)
	}

	t.Run("refreshjwt requires the old access token", func(t *testing.T) {
		a := h.call(t, "POST", "/api/JWT/refreshjwt", jsonType, fmt.Sprintf(`{"refreshToken":%q}`, fresh.RefreshToken))
		if a.Status != 400 || a.errorCode() != "invalid_request" || !strings.Contains(a.Body, "jwtToken") {
			t.Errorf("%d %s", a.Status, a.Body)
		}
	})
	t.Run("a wrong classic password is 401", func(t *testing.T) {
		a := h.call(t, "POST", "/api/JWT/jwtauth", jsonType, `{"userName":"alice","password":"wrong password"}`)
		if a.Status != 401 || a.errorCode() != "invalid_grant" {
			t.Errorf("%d %s", a.Status, a.Body)
		}
	})
}

func TestOAuthTokenEndpoint(t *testing.T) {
	t.Parallel()
	h := newHarness(t).serve(t)
	cases := []struct {
		name   string
		form   func(refresh string) string // nil form: use body as is
		ctype  string
		header []string
		status int
		code   string
	}{
		{"a refresh_token grant without client_id rotates", func(rt string) string {
			return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()
		}, formType, nil, 200, ""},
		{"a refresh_token grant for client authctl rotates", func(rt string) string {
			return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"authctl"}}.Encode()
		}, formType + "; charset=utf-8", nil, 200, ""},
		{"Basic client authentication with an empty secret is accepted", func(rt string) string {
			return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()
		}, formType, []string{"Authorization", "Basic YXV0aGN0bDo="}, 200, ""},
		{"another client_id is invalid_client", func(rt string) string {
			return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"other"}}.Encode()
		}, formType, nil, 401, "invalid_client"},
		{"Basic authentication as another client is invalid_client", func(rt string) string {
			return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()
		}, formType, []string{"Authorization", "Basic b3RoZXI6c2VjcmV0"}, 401, "invalid_client"},
		{"the password grant is unsupported", func(string) string {
			return url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePassword}}.Encode()
		}, formType, nil, 400, "unsupported_grant_type"},
		{"client_credentials is unsupported", func(string) string { return "grant_type=client_credentials" }, formType, nil, 400, "unsupported_grant_type"},
		{"a missing grant_type is invalid_request", func(rt string) string { return "refresh_token=" + rt }, formType, nil, 400, "invalid_request"},
		{"a missing refresh_token is invalid_request", func(string) string { return "grant_type=refresh_token" }, formType, nil, 400, "invalid_request"},
		{"a repeated parameter is invalid_request", func(rt string) string {
			return "grant_type=refresh_token&refresh_token=" + rt + "&refresh_token=" + rt
		}, formType, nil, 400, "invalid_request"},
		{"a malformed form is invalid_request", func(string) string { return "grant_type=%zz" }, formType, nil, 400, "invalid_request"},
		{"an unknown refresh token is invalid_grant", func(string) string {
			return "grant_type=refresh_token&refresh_token=" + strings.Repeat("A", 43)
		}, formType, nil, 400, "invalid_grant"},
		{"a JSON body is 415", func(rt string) string { return `{"grant_type":"refresh_token","refresh_token":"` + rt + `"}` }, jsonType, nil, 415, "invalid_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok := h.login(t, "alice", alicePassword)
			a := h.call(t, "POST", "/oauth/token", c.ctype, c.form(tok.RefreshToken), c.header...)
			if a.Status != c.status || a.errorCode() != c.code {
				t.Fatalf("%d %s", a.Status, a.Body)
			}
			if c.status == 200 {
				m := a.json(t)
				if m["token_type"] != "Bearer" || m["refresh_token"] == tok.RefreshToken ||
					a.Header.Get("Cache-Control") != "no-store" || a.Header.Get("Pragma") != "no-cache" {
					t.Errorf("token answer %v %v", a.Header, m)
				}
			}
			if c.code == "invalid_client" && c.header != nil && !strings.HasPrefix(a.Header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("invalid_client after Basic without a Basic challenge: %v", a.Header)
			}
		})
	}
}

func TestOAuthRevoke(t *testing.T) {
	t.Parallel()
	h := newHarness(t).serve(t)
	revoke := func(t *testing.T, form url.Values) answer {
		return h.call(t, "POST", "/oauth/revoke", formType, form.Encode())
	}
	t.Run("revoking a refresh token ends its session", func(t *testing.T) {
		tok := h.login(t, "alice", alicePassword)
		if a := revoke(t, url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}); a.Status != 200 {
			t.Fatalf("%d %s", a.Status, a.Body)
		}
		if a := h.call(t, "GET", "/api/auth/me", "", "", bearer(tok.AccessToken)...); a.Status != 401 {
			t.Errorf("access token of the revoked session: %d", a.Status)
		}
		if a := h.call(t, "POST", "/api/auth/refresh", jsonType, `{"refresh_token":"`+tok.RefreshToken+`"}`); a.errorCode() != "invalid_grant" {
			t.Errorf("refresh token of the revoked session: %d %s", a.Status, a.Body)
		}
	})
	t.Run("revoking a valid access token ends its session, whatever the hint", func(t *testing.T) {
		tok := h.login(t, "alice", alicePassword)
		if a := revoke(t, url.Values{"token": {tok.AccessToken}, "token_type_hint": {"refresh_token"}, "client_id": {"authctl"}}); a.Status != 200 {
			t.Fatalf("%d %s", a.Status, a.Body)
		}
		if a := h.call(t, "POST", "/api/auth/refresh", jsonType, `{"refresh_token":"`+tok.RefreshToken+`"}`); a.errorCode() != "invalid_grant" {
			t.Errorf("refresh token of the revoked session: %d %s", a.Status, a.Body)
		}
	})
	for _, tok := range []string{strings.Repeat("A", 43), "not a token", "a.b.c", strings.Repeat("x", 5000)} {
		t.Run(fmt.Sprintf("revoking the unknown token %.12q answers 200", tok), func(t *testing.T) {
			if a := revoke(t, url.Values{"token": {tok}}); a.Status != 200 || a.Body != "" {
				t.Errorf("%d %s", a.Status, a.Body)
			}
		})
	}
	for _, c := range []struct {
		name   string
		form   url.Values
		status int
		code   string
	}{
		{"a missing token is invalid_request", url.Values{"token_type_hint": {"refresh_token"}}, 400, "invalid_request"},
		{"another client is invalid_client", url.Values{"token": {"x"}, "client_id": {"other"}}, 401, "invalid_client"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if a := revoke(t, c.form); a.Status != c.status || a.errorCode() != c.code {
				t.Errorf("%d %s", a.Status, a.Body)
			}
		})
	}
}

func TestDiscovery(t *testing.T) {
	t.Parallel()
	h := newHarness(t).serve(t)
	t.Run("JWKS lists the signing key with its kid", func(t *testing.T) {
		a := h.call(t, "GET", "/.well-known/jwks.json", "", "")
		var set server.JWKSet
		if err := json.Unmarshal([]byte(a.Body), &set); err != nil || a.Status != 200 || len(set.Keys) != 1 ||
			set.Keys[0].Kid == "" || set.Keys[0].Kty != "OKP" {
			t.Errorf("%d %s", a.Status, a.Body)
		}
	})
	t.Run("metadata advertises the endpoints under the issuer URL", func(t *testing.T) {
		m := h.call(t, "GET", "/.well-known/oauth-authorization-server", "", "").json(t)
		iss := server.DefaultConfig().Issuer
		want := map[string]any{
			"issuer":                                     iss,
			"token_endpoint":                             iss + "/oauth/token",
			"revocation_endpoint":                        iss + "/oauth/revoke",
			"jwks_uri":                                   iss + "/.well-known/jwks.json",
			"grant_types_supported":                      []any{"refresh_token"},
			"response_types_supported":                   []any{},
			"token_endpoint_auth_methods_supported":      []any{"none"},
			"revocation_endpoint_auth_methods_supported": []any{"none"},
		}
		if fmt.Sprint(m) != fmt.Sprint(want) {
			t.Errorf("metadata\n got %v\nwant %v", m, want)
		}
	})
	t.Run("an issuer URL is the base of the advertised endpoints", func(t *testing.T) {
		h := newHarness(t, withIssuer("https://auth.example.com/")).serve(t)
		m := h.call(t, "GET", "/.well-known/oauth-authorization-server", "", "").json(t)
		if m["issuer"] != "https://auth.example.com/" || m["token_endpoint"] != "https://auth.example.com/oauth/token" {
			t.Errorf("%v", m)
		}
	})
	t.Run("readyz is ok while the store answers and 503 once it is gone", func(t *testing.T) {
		h := newHarness(t).serve(t)
		if a := h.call(t, "GET", "/readyz", "", ""); a.Status != 200 || strings.TrimSpace(a.Body) != `{"status":"ok"}` {
			t.Fatalf("%d %s", a.Status, a.Body)
		}
		h.store.Close()
		a := h.call(t, "GET", "/readyz", "", "")
		if a.Status != 503 || a.errorCode() != "temporarily_unavailable" || a.Header.Get("Retry-After") == "" {
			t.Errorf("%d %v %s", a.Status, a.Header, a.Body)
		}
		if a := h.call(t, "POST", "/api/auth/login", jsonType, `{"username":"alice","password":"x-password"}`); a.Status != 503 {
			t.Errorf("login with the store gone: %d %s", a.Status, a.Body)
		}
	})
}

func TestBearerAuthentication(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tok := h.login(t, "alice", alicePassword)
	sig := []byte(tok.AccessToken)
	if i := len(sig) - 10; sig[i] == 'A' {
		sig[i] = 'B'
	} else {
		sig[i] = 'A'
	}
	tampered := string(sig)
	cases := []struct {
		name, authorization string
		status              int
		challenge           string
	}{
		{"no Authorization header gets the bare challenge", "", 401, `Bearer realm="authctl"`},
		{"another scheme gets the bare challenge", "Basic YWxpY2U6eA==", 401, `Bearer realm="authctl"`},
		{"a scheme without a token is invalid_token", "Bearer", 401, `Bearer error="invalid_token", error_description="malformed bearer credentials"`},
		{"a token with spaces is invalid_token", "Bearer a b", 401, `Bearer error="invalid_token", error_description="malformed bearer credentials"`},
		{"garbage is invalid_token", "Bearer a.b.c", 401, `Bearer error="invalid_token", error_description="the access token is invalid: malformed"`},
		{"a tampered token is invalid_token", "Bearer " + tampered, 401, `Bearer error="invalid_token", error_description="the access token is invalid: bad signature or algorithm"`},
		{"the scheme in lower case is accepted", "bearer " + tok.AccessToken, 200, ""},
		{"the scheme in capitals is accepted", "BEARER " + tok.AccessToken, 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			a := h.record("GET", "/api/auth/me", "", "", "Authorization", c.authorization)
			if a.Status != c.status || a.Header.Get("WWW-Authenticate") != c.challenge {
				t.Errorf("%d %q %s", a.Status, a.Header.Get("WWW-Authenticate"), a.Body)
			}
			if a.Header.Get("IS-TOKEN-EXPIRED") != "" {
				t.Errorf("IS-TOKEN-EXPIRED on a token that did not expire")
			}
			if c.status == 401 && a.errorCode() != "invalid_token" {
				t.Errorf("body %s", a.Body)
			}
		})
	}
}

func TestLoginErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withLimits(server.LimitConfig{UserBurst: 2, PerUser: 1e-6, AddrBurst: 1 << 30, PerAddr: 1e9, MaxKeys: 100}))
	cases := []struct {
		name, body string
		status     int
		code       string
	}{
		{"an unknown user is invalid_grant", `{"username":"mallory","password":"whatever1"}`, 401, "invalid_grant"},
		{"a missing password is invalid_request", `{"username":"alice"}`, 400, "invalid_request"},
		{"an empty username is invalid_request", `{"username":"","password":"x"}`, 400, "invalid_request"},
		{"an absurdly long username is invalid_request", `{"username":"` + strings.Repeat("a", 300) + `","password":"x"}`, 400, "invalid_request"},
		{"null is invalid_request", `null`, 400, "invalid_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := h.record("POST", "/api/auth/login", jsonType, c.body)
			if a.Status != c.status || a.errorCode() != c.code {
				t.Errorf("%d %s", a.Status, a.Body)
			}
		})
	}
	t.Run("repeated failures are 429 with a Retry-After in whole seconds", func(t *testing.T) {
		var a answer
		for range 3 {
			a = h.record("POST", "/api/auth/login", jsonType, `{"username":"bob","password":"wrong password"}`)
		}
		if a.Status != 429 || a.errorCode() != "slow_down" || a.Header.Get("Retry-After") == "" || strings.ContainsAny(a.Header.Get("Retry-After"), ".s") {
			t.Errorf("%d %v %s", a.Status, a.Header, a.Body)
		}
	})
}

func TestRouting(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cases := []struct {
		name, method, path string
		status             int
		allow              string
	}{
		{"GET on a POST endpoint is 405", "GET", "/api/auth/login", 405, "POST"},
		{"POST on a GET endpoint is 405", "POST", "/api/weather", 405, "GET, HEAD"},
		{"DELETE on the token endpoint is 405", "DELETE", "/oauth/token", 405, "POST"},
		{"an unknown path is 404", "GET", "/api/nope", 404, ""},
		{"the root is 404", "GET", "/", 404, ""},
		{"HEAD on healthz is served", "HEAD", "/healthz", 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			a := h.record(c.method, c.path, "", "")
			if a.Status != c.status || a.Header.Get("Allow") != c.allow {
				t.Errorf("%d Allow %q %s", a.Status, a.Header.Get("Allow"), a.Body)
			}
			if c.status >= 400 && !strings.HasPrefix(a.Header.Get("Content-Type"), "application/json") {
				t.Errorf("error without JSON: %v", a.Header)
			}
		})
	}
}

func TestBodyLimits(t *testing.T) {
	t.Parallel()
	h := newHarness(t).serve(t)
	big := `{"username":"` + strings.Repeat("a", MaxBody) + `","password":"x"}`
	cases := []struct {
		name, path, ctype, body string
		status                  int
	}{
		{"an oversized JSON body is 413", "/api/auth/login", jsonType, big, 413},
		{"an oversized form is 413", "/oauth/token", formType, "grant_type=refresh_token&refresh_token=" + strings.Repeat("a", MaxBody), 413},
		{"a wrong content type is 415", "/api/auth/login", "text/plain", `{"username":"alice","password":"x"}`, 415},
		{"a missing content type is 415", "/api/auth/refresh", "", `{"refresh_token":"x"}`, 415},
		{"a JSON body on the form endpoint is 415", "/oauth/revoke", jsonType, `{"token":"x"}`, 415},
		{"a form body on a JSON endpoint is 415", "/api/JWT/jwtauth", formType, "userName=alice", 415},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			a := h.call(t, "POST", c.path, c.ctype, c.body)
			if a.Status != c.status || a.errorCode() != "invalid_request" {
				t.Errorf("%d %s", a.Status, a.Body)
			}
		})
	}
	t.Run("a chunked body growing past the limit is 413", func(t *testing.T) {
		t.Parallel()
		// A reader of unknown length makes the client send chunked, without Content-Length.
		body := struct{ *strings.Reader }{strings.NewReader(big)}
		req, _ := http.NewRequestWithContext(context.Background(), "POST", h.url+"/api/auth/login", body)
		req.Header.Set("Content-Type", jsonType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 413 || req.ContentLength != 0 {
			t.Errorf("%d (Content-Length %d)", resp.StatusCode, req.ContentLength)
		}
	})
}

// endpoints lists every route with the content type it wants.
var endpoints = []struct{ method, path, ctype string }{
	{"POST", "/api/auth/login", jsonType},
	{"POST", "/api/auth/refresh", jsonType},
	{"POST", "/api/auth/logout", jsonType},
	{"GET", "/api/auth/me", ""},
	{"GET", "/api/weather?days=3", ""},
	{"POST", "/api/JWT/jwtauth", jsonType},
	{"POST", "/api/JWT/refreshjwt", jsonType},
	{"GET", "/api/WeatherForecast", ""},
	{"POST", "/oauth/token", formType},
	{"POST", "/oauth/revoke", formType},
	{"GET", "/.well-known/jwks.json", ""},
	{"GET", "/.well-known/oauth-authorization-server", ""},
	{"GET", "/healthz", ""},
}

var badBodies = []string{
	"", " ", "{", "}", "null", "[]", "[1,2]", `"string"`, "123", "true", `{"username":1}`,
	`{"username":"alice","password":"x","extra":1}`, `{"username":"alice","username":"bob","password":"x"}`,
	`{"username":"alice","password":"` + alicePassword + `"} trailing`, `{"a":1}{"b":2}`,
	`{"refresh_token":null}`, `{"refresh_token":["a"]}`, `{"refresh_token":{"$gt":""}}`,
	`{"refresh_token":"` + strings.Repeat("A", 10000) + `"}`, `{"userName":"alice","password":{}}`,
	`{"jwtToken":"a.b.c","refreshToken":"x"}`, `{"jwtToken":"eyJhbGciOiJub25lIn0.e30.","refreshToken":"` + strings.Repeat("A", 43) + `"}`,
	"grant_type=refresh_token", "grant_type=refresh_token&refresh_token=a&refresh_token=b", "token=", "%zz=%%", "\x00\xff\xfe",
	"grant_type=password&username=alice&password=x", "token=a.b.c&token_type_hint=access_token",
	`{"username":"` + strings.Repeat("é", 3000) + `","password":"x"}`, `{"username":"\ud800","password":"\u0000"}`,
	strings.Repeat("[", 100000), `{"username":"alice","password":"` + strings.Repeat("p", 5000) + `"}`,
}

// TestNoInputReachesServerError feeds bad input to every endpoint, with every content type
// and several Authorization headers: always a 4xx JSON answer, never a 5xx.
func TestNoInputReachesServerError(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withCORS("http://localhost:4200"))
	ctypes := []string{"", "text/plain", jsonType + "; charset=utf-8", formType, "multipart/form-data; boundary=x", "application/json;;;", "application/json; charset=\"", "*/*"}
	auths := []string{"", "Bearer", "Bearer a.b.c", "Basic YTpi", "bearer " + strings.Repeat("x", 9000), "Bearer eyJhbGciOiJub25lIn0.e30."}
	for _, e := range endpoints {
		for _, ctype := range ctypes {
			for _, body := range badBodies {
				for _, auth := range auths {
					a := h.record(e.method, e.path, ctype, body, "Authorization", auth, "Origin", "http://localhost:4200")
					if a.Status >= 500 {
						t.Fatalf("%s %s (%s) %.40q auth %.20q: %d %s", e.method, e.path, ctype, body, auth, a.Status, a.Body)
					}
					if a.Status >= 400 && !strings.HasPrefix(a.Header.Get("Content-Type"), "application/json") {
						t.Fatalf("%s %s: %d without a JSON error", e.method, e.path, a.Status)
					}
				}
			}
		}
	}
	if logs := h.logs.String(); strings.Contains(logs, "level=ERROR") {
		t.Errorf("errors logged:\n%s", logs)
	}
}
