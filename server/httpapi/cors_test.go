package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The preflight Chrome sends for the tutorial's Angular client: that client adds an
// Access-Control-Allow-Headers *request* header to every API call, so the preflight asks for
// it, and ASP.NET's AllowAnyHeader() allows it.
const (
	classicOrigin         = "http://localhost:4200"
	classicRequestHeaders = "access-control-allow-headers,authorization,content-type"
	classicAllowedHeaders = "Access-Control-Allow-Headers, Authorization, Content-Type"
)

// preflight sends one CORS preflight through the whole handler over real HTTP.
func preflight(t *testing.T, h *harness, path, origin, method, headers string) answer {
	t.Helper()
	hdr := []string{"Origin", origin, "Access-Control-Request-Method", method}
	if headers != "" {
		hdr = append(hdr, "Access-Control-Request-Headers", headers)
	}
	return h.call(t, http.MethodOptions, path, "", "", hdr...)
}

// TestCORSPreflightOfTheClassicClient replays the exact preflights of issue 9 through the
// real handler: for an allowed origin they get the method and the headers they asked for;
// for another origin no CORS header at all and a plain 403, never the 405 of the mux.
func TestCORSPreflightOfTheClassicClient(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withCORS(classicOrigin)).serve(t)
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/WeatherForecast"},
		{"POST", "/api/JWT/refreshjwt"},
		{"POST", "/api/JWT/jwtauth"},
		{"GET", "/api/weather"},
	} {
		t.Run("an allowed origin's "+c.method+" preflight for "+c.path+" is granted what it asked", func(t *testing.T) {
			t.Parallel()
			a := preflight(t, h, c.path, classicOrigin, c.method, classicRequestHeaders)
			if a.Status != http.StatusNoContent {
				t.Fatalf("status %d %s", a.Status, a.Body)
			}
			want := map[string]string{
				"Access-Control-Allow-Origin":  classicOrigin,
				"Access-Control-Allow-Methods": c.method,
				"Access-Control-Allow-Headers": classicAllowedHeaders,
				"Access-Control-Max-Age":       "600",
			}
			for k, v := range want {
				if got := a.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if a.Header.Get("Access-Control-Allow-Credentials") != "" {
				t.Error("credentials allowed: the API takes bearer tokens, cookies are same-origin only")
			}
			checkVary(t, a.Header, "Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers")
		})
		t.Run("another origin's "+c.method+" preflight for "+c.path+" is a plain 403", func(t *testing.T) {
			t.Parallel()
			a := preflight(t, h, c.path, "http://evil.example", c.method, classicRequestHeaders)
			if a.Status != http.StatusForbidden || a.errorCode() != "invalid_request" {
				t.Errorf("status %d %s", a.Status, a.Body)
			}
			for _, k := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Max-Age"} {
				if v := a.Header.Get(k); v != "" {
					t.Errorf("%s: %q", k, v)
				}
			}
			checkVary(t, a.Header, "Origin")
		})
	}
}

// checkVary asserts that every name is listed in the Vary headers, however they are split.
func checkVary(t *testing.T, h http.Header, names ...string) {
	t.Helper()
	var listed []string
	for _, v := range h.Values("Vary") {
		for f := range strings.SplitSeq(v, ",") {
			listed = append(listed, strings.ToLower(strings.TrimSpace(f)))
		}
	}
	for _, n := range names {
		found := false
		for _, l := range listed {
			found = found || l == strings.ToLower(n)
		}
		if !found {
			t.Errorf("Vary %q lacks %s", listed, n)
		}
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	const allowed = classicOrigin
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	pre := []string{"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type"}
	cases := []struct {
		name    string
		origins []string
		method  string
		header  []string
		status  int
		want    map[string]string // "" means absent
	}{
		{"a preflight from an allowed origin is answered 204 with what it asked for", []string{allowed}, "OPTIONS", append([]string{"Origin", allowed}, pre...), 204, map[string]string{
			"Access-Control-Allow-Origin":  allowed,
			"Access-Control-Allow-Methods": "POST",
			"Access-Control-Allow-Headers": "Authorization, Content-Type",
			"Access-Control-Max-Age":       "600",
		}},
		{"a preflight asking for no headers is allowed none", []string{allowed}, "OPTIONS", []string{"Origin", allowed, "Access-Control-Request-Method", "GET"}, 204, map[string]string{
			"Access-Control-Allow-Origin": allowed, "Access-Control-Allow-Methods": "GET", "Access-Control-Allow-Headers": "",
		}},
		{"a preflight for a malformed method is refused", []string{allowed}, "OPTIONS", []string{"Origin", allowed, "Access-Control-Request-Method", "DELETE x"}, 403, map[string]string{
			"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": "",
		}},
		{"a preflight asking for a malformed header list is refused", []string{allowed}, "OPTIONS", []string{"Origin", allowed, "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "a b,(c)"}, 403, map[string]string{
			"Access-Control-Allow-Origin": "", "Access-Control-Allow-Headers": "",
		}},
		{"a preflight from another origin gets no CORS headers and 403", []string{allowed}, "OPTIONS", append([]string{"Origin", "http://evil.example"}, pre...), 403, map[string]string{
			"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": "", "Access-Control-Allow-Headers": "",
		}},
		{"origins match exactly, not by prefix", []string{allowed}, "OPTIONS", append([]string{"Origin", allowed + ".evil.example"}, pre...), 403, map[string]string{
			"Access-Control-Allow-Origin": "",
		}},
		{"origins match exactly, not by case", []string{allowed}, "GET", []string{"Origin", strings.ToUpper(allowed)}, 418, map[string]string{
			"Access-Control-Allow-Origin": "",
		}},
		{"a request from an allowed origin is labelled and exposes the headers", []string{allowed}, "GET", []string{"Origin", allowed}, 418, map[string]string{
			"Access-Control-Allow-Origin":   allowed,
			"Access-Control-Expose-Headers": "IS-TOKEN-EXPIRED, WWW-Authenticate, Retry-After",
			"Access-Control-Allow-Methods":  "",
			"Vary":                          "Origin",
		}},
		{"a request from another origin is not labelled", []string{allowed}, "GET", []string{"Origin", "http://evil.example"}, 418, map[string]string{
			"Access-Control-Allow-Origin": "", "Access-Control-Expose-Headers": "", "Vary": "Origin",
		}},
		{"without configured origins a request is not labelled", nil, "GET", []string{"Origin", allowed}, 418, map[string]string{
			"Access-Control-Allow-Origin": "", "Vary": "",
		}},
		{"without configured origins a preflight is a plain 403", nil, "OPTIONS", append([]string{"Origin", allowed}, pre...), 403, map[string]string{
			"Access-Control-Allow-Origin": "",
		}},
		{"a plain OPTIONS from an allowed origin is not a preflight", []string{allowed}, "OPTIONS", []string{"Origin", allowed}, 418, map[string]string{
			"Access-Control-Allow-Origin": allowed, "Access-Control-Allow-Methods": "",
		}},
		{"an OPTIONS without Origin is not a preflight", []string{allowed}, "OPTIONS", pre, 418, map[string]string{
			"Access-Control-Allow-Origin": "",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(c.method, "/api/auth/login", nil)
			for i := 0; i+1 < len(c.header); i += 2 {
				r.Header.Set(c.header[i], c.header[i+1])
			}
			rec := httptest.NewRecorder()
			cors(c.origins)(ok).ServeHTTP(rec, r)
			if rec.Code != c.status {
				t.Errorf("status %d, want %d", rec.Code, c.status)
			}
			for k, v := range c.want {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if rec.Code == http.StatusForbidden && !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
				t.Errorf("a refused preflight without a JSON body: %q", rec.Header().Get("Content-Type"))
			}
		})
	}
}

// FuzzPreflight sends arbitrary preflights: never a 5xx, an Access-Control-Allow-Origin only
// for the allowed origin, and only well-formed methods and header lists echoed back.
func FuzzPreflight(f *testing.F) {
	f.Add(classicOrigin, "GET", classicRequestHeaders)
	f.Add(classicOrigin, "POST", "authorization, content-type")
	f.Add(classicOrigin, "DELETE", "")
	f.Add("http://evil.example", "GET", "x-a")
	f.Add(classicOrigin, "GET\r\nX: y", "a,,b")
	f.Add(classicOrigin, "G E T", "a b")
	f.Add("null", "PUT", "x-authctl-browser")
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := cors([]string{classicOrigin})(next)
	f.Fuzz(func(t *testing.T, origin, method, headers string) {
		r := httptest.NewRequest(http.MethodOptions, "/api/weather", nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", method)
		r.Header.Set("Access-Control-Request-Headers", headers)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if origin == "" || method == "" {
			return // not a preflight: passed on
		}
		if rec.Code != http.StatusNoContent && rec.Code != http.StatusForbidden {
			t.Fatalf("status %d", rec.Code)
		}
		acao := rec.Header().Get("Access-Control-Allow-Origin")
		if rec.Code == http.StatusForbidden {
			if acao != "" || rec.Header().Get("Access-Control-Allow-Headers") != "" {
				t.Fatalf("a refused preflight with CORS headers: %v", rec.Header())
			}
			return
		}
		if origin != classicOrigin || acao != origin {
			t.Fatalf("origin %q granted as %q", origin, acao)
		}
		if m := rec.Header().Get("Access-Control-Allow-Methods"); m != method || !isToken(m) {
			t.Fatalf("method %q granted as %q", method, m)
		}
		got := rec.Header().Get("Access-Control-Allow-Headers")
		var want []string
		for f := range strings.SplitSeq(headers, ",") {
			if f = strings.Trim(f, " \t"); f != "" {
				want = append(want, strings.ToLower(f))
			}
		}
		if strings.ToLower(got) != strings.Join(want, ", ") || strings.ContainsAny(got, "\r\n\x00") {
			t.Fatalf("headers %q granted as %q", headers, got)
		}
	})
}
