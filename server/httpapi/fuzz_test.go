package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// checkAnswer fails on a 5xx (503 is allowed: it means the store said so, not a bug) and on
// an error answer that is not RFC 6749 JSON.
func checkAnswer(t *testing.T, what string, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("%s: %d %s", what, rec.Code, rec.Body)
	}
	if rec.Code >= 400 {
		var e struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
			t.Fatalf("%s: %d without an error body: %q", what, rec.Code, rec.Body)
		}
	}
}

func post(h http.Handler, path, ctype, body string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", path, strings.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// FuzzLoginDecode sends arbitrary bodies to both login endpoints.
func FuzzLoginDecode(f *testing.F) {
	h := newHarness(f)
	for _, s := range []string{
		`{"username":"alice","password":"` + alicePassword + `"}`,
		`{"userName":"alice","password":"x"}`,
		`{"username":"alice","username":"alice","password":"x"}`,
		`{"username":1}`, `null`, `[]`, `{`, ``, `{"a":{"b":[{"c":null}]}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, path := range []string{"/api/auth/login", "/api/JWT/jwtauth"} {
			checkAnswer(t, path, post(h.handler, path, jsonType, body))
		}
	})
}

// FuzzRefreshDecode sends arbitrary bodies to every endpoint that takes a refresh token as
// JSON, with a real refresh token available for the fuzzer to splice in.
func FuzzRefreshDecode(f *testing.F) {
	h := newHarness(f)
	tok := h.login(f, "alice", alicePassword)
	for _, s := range []string{
		`{"refresh_token":"` + tok.RefreshToken + `"}`,
		`{"jwtToken":"` + tok.AccessToken + `","refreshToken":"` + tok.RefreshToken + `"}`,
		`{"refresh_token":"` + strings.Repeat("A", 43) + `"}`,
		`{"refresh_token":null}`, `{"refreshToken":["a"]}`, `{"refresh_token":"x"} {}`, `"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, path := range []string{"/api/auth/refresh", "/api/auth/logout", "/api/JWT/refreshjwt"} {
			checkAnswer(t, path, post(h.handler, path, jsonType, body))
		}
	})
}

// FuzzTokenForm sends arbitrary form bodies and Authorization headers to the OAuth token and
// revocation endpoints.
func FuzzTokenForm(f *testing.F) {
	h := newHarness(f)
	tok := h.login(f, "alice", alicePassword)
	f.Add("grant_type=refresh_token&refresh_token="+tok.RefreshToken, "")
	f.Add("grant_type=refresh_token&refresh_token="+tok.RefreshToken+"&client_id=authctl", "Basic YXV0aGN0bDo=")
	f.Add("grant_type=password&username=alice&password=x", "")
	f.Add("token="+tok.AccessToken+"&token_type_hint=access_token", "")
	f.Add("grant_type=refresh_token&refresh_token=a&refresh_token=b", "Basic %%%")
	f.Add("%zz=%%&;", "Bearer x")
	f.Fuzz(func(t *testing.T, body, authorization string) {
		for _, path := range []string{"/oauth/token", "/oauth/revoke"} {
			checkAnswer(t, path, post(h.handler, path, formType, body, "Authorization", authorization))
		}
	})
}

// FuzzAPI sends arbitrary requests through the whole handler: never a 5xx, never a panic.
func FuzzAPI(f *testing.F) {
	h := newHarness(f)
	for i, e := range endpoints {
		f.Add(uint8(i), e.ctype, badBodies[i%len(badBodies)], "")
	}
	f.Add(uint8(0), jsonType, `{"username":"alice","password":"`+alicePassword+`"}`, "")
	f.Add(uint8(8), formType, "grant_type=refresh_token&refresh_token="+strings.Repeat("A", 43)+"&client_id=authctl", "")
	f.Add(uint8(4), "", "", "Bearer eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, which uint8, ctype, body, auth string) {
		e := endpoints[int(which)%len(endpoints)]
		req := httptest.NewRequest(e.method, e.path, strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		h.handler.ServeHTTP(rec, req)
		checkAnswer(t, e.method+" "+e.path, rec)
	})
}
