package httpapi

import (
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func TestWebClientIsServed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withWeb(true))
	for _, c := range []struct {
		path, ctype, contains string
	}{
		{"/", "text/html; charset=utf-8", `<script type="module" src="/web/app.js">`},
		{"/web/app.js", "text/javascript; charset=utf-8", "X-Authctl-Browser"},
		{"/web/style.css", "text/css; charset=utf-8", "[hidden]"},
		{"/web/favicon.svg", "image/svg+xml", "<svg"},
	} {
		t.Run(c.path+" is served with the strict headers", func(t *testing.T) {
			t.Parallel()
			a := h.record("GET", c.path, "", "")
			if a.Status != http.StatusOK || a.Header.Get("Content-Type") != c.ctype || !strings.Contains(a.Body, c.contains) {
				t.Fatalf("%d %q %.80q", a.Status, a.Header.Get("Content-Type"), a.Body)
			}
			csp := a.Header.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "form-action 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe") {
				t.Errorf("CSP %q allows something unsafe", csp)
			}
			if a.Header.Get("X-Content-Type-Options") != "nosniff" || a.Header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("headers %v", a.Header)
			}
		})
	}
	for _, path := range []string{"/web/nope.js", "/web/", "/web/a/app.js", "/index.html", "/web/..%2fapi.go"} {
		t.Run(path+" is a JSON 404", func(t *testing.T) {
			t.Parallel()
			a := h.record("GET", path, "", "")
			if a.Status != http.StatusNotFound && a.Status != http.StatusMovedPermanently {
				t.Errorf("%d %.80q", a.Status, a.Body)
			}
			if a.Status == http.StatusNotFound && a.errorCode() != "not_found" {
				t.Errorf("%d %.80q", a.Status, a.Body)
			}
		})
	}
	t.Run("POST / is 405 with Allow", func(t *testing.T) {
		t.Parallel()
		a := h.record("POST", "/", "", "")
		if a.Status != http.StatusMethodNotAllowed || a.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%d %v", a.Status, a.Header)
		}
	})
}

func TestWebClientCanBeTurnedOff(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withWeb(false))
	for _, path := range []string{"/", "/web/app.js"} {
		if a := h.record("GET", path, "", ""); a.Status != http.StatusNotFound || a.errorCode() != "not_found" {
			t.Errorf("%s: %d %.80q", path, a.Status, a.Body)
		}
	}
	// The JSON API is unaffected.
	if tok := h.login(t, "alice", alicePassword); tok.RefreshToken == "" {
		t.Error("no refresh token")
	}
}

// TestWebClientSource holds the shipped files to the rules that make the CSP and the token
// handling hold: no inline script or style, no markup built from strings, no token in web
// storage or a script-readable cookie.
func TestWebClientSource(t *testing.T) {
	t.Parallel()
	read := func(name string) string {
		b, err := fs.ReadFile(webFiles, "web/"+name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	html := read("index.html")
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`<script[^>]*>\s*[^<\s]`), // a script with a body
		regexp.MustCompile(`(?i)<style`),
		regexp.MustCompile(`(?i)\sstyle=`),
		regexp.MustCompile(`(?i)\son[a-z]+=`),
		regexp.MustCompile(`(?i)javascript:`),
	} {
		if m := bad.FindString(html); m != "" {
			t.Errorf("index.html: %q", m)
		}
	}
	if tags := regexp.MustCompile(`<script[^>]*>`).FindAllString(html, -1); len(tags) != 1 || !strings.Contains(tags[0], ` src="/web/`) {
		t.Errorf("scripts %q, want the one module from /web/", tags)
	}
	js := read("app.js")
	for _, bad := range []string{"localStorage", "sessionStorage", "indexedDB", "document.cookie", "innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "new Function", "document.write"} {
		if strings.Contains(js, bad) {
			t.Errorf("app.js uses %s", bad)
		}
	}
}
