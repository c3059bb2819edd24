package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// The browser tests drive headless Chromium (chromedp) against the real `authctl serve` on
// loopback: the built-in web client, and a page that makes the classic Angular client's
// requests from another origin (README "Browser"). They wait on DOM state, never on a fixed
// sleep, except to let a short --access-ttl run out; requests are counted in the server's
// access log.

// browserTTL is the --access-ttl of these tests: short, so that expiry is quick to reach,
// and long enough that a token does not expire between login and first use on a slow CI.
const browserTTL = 2 * time.Second

// startBrowser starts one headless Chromium for a test. Without a browser on PATH the test
// is skipped, unless AUTHCTL_TEST_BROWSER_REQUIRED is set (.ci/run sets it).
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("AUTHCTL_TEST_BROWSER_REQUIRED") != "" {
			t.Fatal("no Chromium on PATH (chromium, chromium-browser, google-chrome) and AUTHCTL_TEST_BROWSER_REQUIRED is set")
		}
		t.Skip("no Chromium on PATH; install chromium, or set AUTHCTL_TEST_BROWSER_REQUIRED=1 to fail instead")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.WindowSize(960, 720))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run its sandbox as root (CI)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

// tab is one browser tab with the console messages it produced.
type tab struct {
	t   *testing.T
	ctx context.Context

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

// newTab opens a tab in a fresh browser profile (its own cookies and storage), or, given
// another tab, a second tab sharing that tab's profile. When the test ends it checks that
// the page threw no exception and broke no Content-Security-Policy or Trusted Types rule.
func newTab(t *testing.T, parent context.Context, sibling *tab) *tab {
	t.Helper()
	var ctx context.Context
	var cancel context.CancelFunc
	if sibling != nil {
		ctx, cancel = chromedp.NewContext(sibling.ctx)
	} else {
		deadline, cancelDeadline := context.WithTimeout(parent, 2*time.Minute)
		t.Cleanup(cancelDeadline)
		ctx, cancel = chromedp.NewContext(deadline, chromedp.WithNewBrowserContext())
	}
	p := &tab{t: t, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("open tab: %v", err)
	}
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.console = append(p.console, m)
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		for _, m := range p.messages() {
			if m.IsException() || strings.Contains(m.Text, "Content Security Policy") || strings.Contains(m.Text, "Trusted Type") {
				t.Errorf("page console: %s: %s", m.Type, m.Text)
			}
		}
	})
	return p
}

func (p *tab) messages() []chromedp.ConsoleMessage {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]chromedp.ConsoleMessage(nil), p.console...)
}

func (p *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.t.Fatalf("browser: %v\npage: %s", err, p.describe())
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](p *tab, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v\npage: %s", expr, err, p.describe())
	}
	return v
}

// waitFor waits until the JavaScript condition holds in the page. It asks the page every
// 20 ms rather than use chromedp.Poll, whose helper compiles the condition with new
// Function: the built-in client's CSP forbids that, as it should.
func (p *tab) waitFor(what, cond string) {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool]("Boolean("+cond+")"))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) || p.ctx.Err() != nil {
			p.t.Fatalf("waiting for %s (%s): %v\npage: %s", what, cond, err, p.describe())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitConsole waits until the page's console shows a message containing text.
func (p *tab) waitConsole(text string) {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, m := range p.messages() {
			if strings.Contains(m.Text, text) {
				return
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("no console message %q in %v", text, p.messages())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// describe is the page's URL and visible text, for failure messages.
func (p *tab) describe() string {
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
	defer cancel()
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
	if err != nil {
		return err.Error()
	}
	return text
}

// noTokenInScript checks that page scripts can see no token: not in document.cookie, not in
// web storage.
func (p *tab) noTokenInScript() {
	p.t.Helper()
	seen := eval[string](p, `document.cookie + "|" + localStorage.length + "|" + sessionStorage.length`)
	if seen != "|0|0" {
		p.t.Errorf("document.cookie|localStorage.length|sessionStorage.length = %q, want %q", seen, "|0|0")
	}
}

// refreshCookie returns the browser's refresh-token cookie for the server at base, as the
// browser holds it (CDP sees HttpOnly cookies; page scripts do not).
func (p *tab) refreshCookie(base string) *network.Cookie {
	p.t.Helper()
	res, err := chromedp.Call(p.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/api/auth/refresh"}})
	if err != nil {
		p.t.Fatal(err)
	}
	for _, c := range res.Cookies {
		if c.Name == "authctl_refresh" {
			return c
		}
	}
	return nil
}

// requestLine is an access-log line: method, path and status.
var requestLine = regexp.MustCompile(`msg=request method=(\S+) path=(\S+) status=(\d+)`)

// logMark sends a request to a unique path and waits for its access-log line, so that
// every request answered before it is in the log too (the server writes the line before the
// answer leaves, but the log is read from a pipe). It returns the log's length after it.
func (s *serveProc) logMark(t *testing.T) (path string, end int) {
	t.Helper()
	path = fmt.Sprintf("/test-mark-%d", time.Now().UnixNano())
	if resp, err := http.Get(s.URL + path); err == nil {
		resp.Body.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		l := s.logs()
		if i := strings.Index(l, "path="+path+" "); i >= 0 {
			return path, i + strings.IndexByte(l[i:], '\n') + 1
		}
		if time.Now().After(deadline) {
			t.Fatalf("the marker request never reached the log:\n%s", l)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// since marks the log: the requests after it are counted by requests(t, since(t)).
func (s *serveProc) since(t *testing.T) int {
	t.Helper()
	_, end := s.logMark(t)
	return end
}

// requests counts the server's access-log lines since offset from, by "METHOD path status":
// every request the browser finished before the call, and nothing else.
func (s *serveProc) requests(t *testing.T, from int) map[string]int {
	t.Helper()
	mark, _ := s.logMark(t)
	counts := map[string]int{}
	for _, m := range requestLine.FindAllStringSubmatch(s.logs()[from:], -1) {
		if m[2] == mark {
			break
		}
		if strings.HasPrefix(m[2], "/test-mark-") {
			continue // an earlier mark
		}
		counts[m[1]+" "+m[2]+" "+m[3]]++
	}
	return counts
}

// waitRequests waits until the log since from has at least n lines for key.
func (s *serveProc) waitRequests(t *testing.T, from int, key string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		count := 0
		for _, m := range requestLine.FindAllStringSubmatch(s.logs()[from:], -1) {
			if m[1]+" "+m[2]+" "+m[3] == key {
				count++
			}
		}
		if count >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d × %q in the log, want %d:\n%s", count, key, n, s.logs()[from:])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pageRequests is requests without the favicon, which the browser fetches when it sees fit.
func pageRequests(t *testing.T, s *serveProc, from int) map[string]int {
	t.Helper()
	counts := s.requests(t, from)
	delete(counts, "GET /web/favicon.svg 200")
	return counts
}

// expectRequests compares counts with want exactly: no request missing, none extra.
func expectRequests(t *testing.T, counts map[string]int, want map[string]int) {
	t.Helper()
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("%d × %s, want %d (all: %v)", counts[k], k, n, counts)
		}
	}
	for k, n := range counts {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected %d × %s (all: %v)", n, k, counts)
		}
	}
}

// sleepPast waits until a token issued before t0 has expired: the only sleep of these
// tests, since nothing in the page changes when a token runs out.
func sleepPast(t0 time.Time) {
	time.Sleep(time.Until(t0.Add(browserTTL + 150*time.Millisecond)))
}

// webLogin logs in through the built-in page and waits for its home page.
func webLogin(p *tab, base string) {
	p.t.Helper()
	p.do(chromedp.Navigate(base + "/"))
	p.waitFor("the login form", `!document.getElementById("login").hidden`)
	p.noTokenInScript()
	p.do(
		chromedp.SendKeys(chromedp.ID("username"), "admin"),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
		chromedp.Click(chromedp.ID("login-button")),
	)
	p.waitFor("the home page", `!document.getElementById("home").hidden && document.getElementById("welcome").textContent === "Welcome, admin"`)
}

// logDuration logs, when t's subtests are done, how long they took together.
func logDuration(t *testing.T, what string) {
	start := time.Now()
	t.Cleanup(func() { t.Logf("%s took %v", what, time.Since(start).Round(100*time.Millisecond)) })
}

const (
	weatherRows    = `document.querySelectorAll("#forecast-rows tr").length === 5 && !document.getElementById("forecast").hidden`
	refreshedShown = `!document.getElementById("refreshed").hidden && document.getElementById("refreshed").textContent.startsWith("Token refreshed @ ")`
)

func TestBrowserWebClient(t *testing.T) {
	t.Parallel()
	browser := startBrowser(t)
	logDuration(t, "built-in client scenarios")

	t.Run("log in, weather, expiry refreshes once for two concurrent calls, reload keeps the session", func(t *testing.T) {
		t.Parallel()
		s := startServe(t, tempDB(t), "--access-ttl", browserTTL.String())
		p := newTab(t, browser, nil)
		if os.Getenv("AUTHCTL_UPDATE_SCREENSHOT") != "" {
			p.do(chromedp.EmulateViewport(880, 600))
		}
		from := s.since(t)
		webLogin(p, s.URL)
		loggedIn := time.Now()
		p.do(chromedp.Click(chromedp.ID("check")))
		p.waitFor("the forecast", weatherRows)
		expectRequests(t, pageRequests(t, s, from), map[string]int{
			"GET / 200": 1, "GET /web/app.js 200": 1, "GET /web/style.css 200": 1,
			"POST /api/auth/refresh 400": 1, // the start-up probe: no cookie yet
			"POST /api/auth/login 200":   1,
			"GET /api/weather 200":       1,
		})
		if eval[bool](p, `!document.getElementById("refreshed").hidden`) {
			t.Error(`"Token refreshed" shown before any refresh`)
		}
		p.noTokenInScript()

		sleepPast(loggedIn)
		from = s.since(t)
		// Two calls at once with the expired token: both get 401, one refresh serves both.
		eval[bool](p, `(() => { const b = document.getElementById("check"); b.click(); b.click(); return true })()`)
		s.waitRequests(t, from, "GET /api/weather 200", 2)
		p.waitFor("the forecast and the refresh notice", weatherRows+" && "+refreshedShown)
		expectRequests(t, s.requests(t, from), map[string]int{
			"GET /api/weather 401": 2, "POST /api/auth/refresh 200": 1, "GET /api/weather 200": 2,
		})
		if os.Getenv("AUTHCTL_UPDATE_SCREENSHOT") != "" {
			saveScreenshot(t, p)
		}

		from = s.since(t)
		p.do(chromedp.Reload())
		p.waitFor("the home page after a reload", `!document.getElementById("home").hidden && document.getElementById("welcome").textContent === "Welcome, admin"`)
		p.do(chromedp.Click(chromedp.ID("check")))
		p.waitFor("the forecast after a reload", weatherRows)
		expectRequests(t, pageRequests(t, s, from), map[string]int{
			"GET / 200": 1, "GET /web/app.js 200": 1, "GET /web/style.css 200": 1,
			"POST /api/auth/refresh 200": 1, // the session recovered through the cookie
			"GET /api/weather 200":       1,
		})
		p.noTokenInScript()
	})

	t.Run("two tabs whose tokens expire together spend one refresh and stay logged in", func(t *testing.T) {
		t.Parallel()
		s := startServe(t, tempDB(t), "--access-ttl", browserTTL.String())
		first := newTab(t, browser, nil)
		webLogin(first, s.URL)
		second := newTab(t, browser, first)
		second.do(chromedp.Navigate(s.URL + "/"))
		// The second tab recovers the session through the cookie and hands its new token
		// to the first, so both now hold the same token.
		second.waitFor("the second tab's home page", `!document.getElementById("home").hidden`)
		issued := time.Now()
		first.waitFor("the first tab adopting the second tab's token", refreshedShown)

		sleepPast(issued)
		from := s.since(t)
		var wg sync.WaitGroup
		for _, p := range []*tab{first, second} {
			wg.Go(func() { eval[bool](p, `(() => { document.getElementById("check").click(); return true })()`) })
		}
		wg.Wait()
		for _, p := range []*tab{first, second} {
			p.waitFor("the forecast in both tabs", weatherRows)
		}
		s.waitRequests(t, from, "GET /api/weather 200", 2)
		counts := s.requests(t, from)
		if counts["POST /api/auth/refresh 200"] != 1 || counts["GET /api/weather 200"] != 2 || counts["GET /api/weather 401"] > 2 {
			t.Errorf("want one refresh and two forecasts, got %v", counts)
		}
		for k := range counts {
			if strings.Contains(k, "/api/auth/") && k != "POST /api/auth/refresh 200" {
				t.Errorf("unexpected %s: %v", k, counts)
			}
		}
		for _, p := range []*tab{first, second} {
			if !eval[bool](p, `document.getElementById("login").hidden`) {
				t.Errorf("a tab was logged out: %s", p.describe())
			}
			p.noTokenInScript()
		}
		if strings.Contains(s.logs(), "level=WARN") {
			t.Errorf("the server saw a refresh token reused:\n%s", s.logs())
		}
	})

	t.Run("a session revoked from outside returns to the login page with a message", func(t *testing.T) {
		t.Parallel()
		s := startServe(t, tempDB(t), "--access-ttl", browserTTL.String())
		p := newTab(t, browser, nil)
		webLogin(p, s.URL)
		c := p.refreshCookie(s.URL)
		if c == nil {
			t.Fatal("no refresh-token cookie after login")
		}
		if !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict || c.Path != "/api/auth" || c.Secure || c.Session {
			t.Errorf("cookie %+v", c)
		}
		if a := call(t, "POST", s.URL+"/oauth/revoke", "application/x-www-form-urlencoded", url.Values{"token": {c.Value}}.Encode()); a.Status != 200 {
			t.Fatalf("revoke: %d %s", a.Status, a.Body)
		}
		from := s.since(t)
		p.do(chromedp.Click(chromedp.ID("check")))
		p.waitFor("the login page with a message", `!document.getElementById("login").hidden && document.getElementById("message").textContent.includes("expired or was revoked")`)
		// One call, one refresh attempt, then the login page: never a loop.
		expectRequests(t, s.requests(t, from), map[string]int{"GET /api/weather 401": 1, "POST /api/auth/refresh 400": 1})
		if p.refreshCookie(s.URL) != nil {
			t.Error("the refused cookie was kept")
		}
		p.noTokenInScript()
	})

	t.Run("log out revokes the session and deletes the cookie", func(t *testing.T) {
		t.Parallel()
		s := startServe(t, tempDB(t), "--access-ttl", browserTTL.String())
		p := newTab(t, browser, nil)
		webLogin(p, s.URL)
		c := p.refreshCookie(s.URL)
		if c == nil {
			t.Fatal("no refresh-token cookie after login")
		}
		from := s.since(t)
		p.do(chromedp.Click(chromedp.ID("logout")))
		p.waitFor("the login page", `!document.getElementById("login").hidden && document.getElementById("message").textContent === "You are logged out."`)
		expectRequests(t, s.requests(t, from), map[string]int{"POST /api/auth/logout 204": 1})
		if c := p.refreshCookie(s.URL); c != nil {
			t.Errorf("cookie still there: %+v", c)
		}
		if _, a := refresh(t, s.URL, c.Value); a.Status != 400 || a.json(t)["error"] != "invalid_grant" {
			t.Errorf("the logged-out refresh token: %d %s", a.Status, a.Body)
		}
		p.do(chromedp.Reload())
		p.waitFor("the login page after a reload", `!document.getElementById("login").hidden && document.getElementById("message").hidden`)
		p.noTokenInScript()
	})
}

// saveScreenshot writes the page as docs/web-client.png (AUTHCTL_UPDATE_SCREENSHOT=1).
func saveScreenshot(t *testing.T, p *tab) {
	t.Helper()
	png, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join("..", "..", "docs", "web-client.png")
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", out, len(png))
}

// classicPages serves testdata/classic, the classic-client test page, on its own origin.
func classicPages(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Join("testdata", "classic"))))
	t.Cleanup(srv.Close)
	return srv
}

// classicLogin logs in through the classic page and loads the weather once.
func classicLogin(p *tab, page, api string) {
	p.t.Helper()
	p.do(chromedp.Navigate(page + "/?api=" + url.QueryEscape(api+"/api/")))
	p.waitFor("the login form", `document.body.dataset.view === "login"`)
	p.do(
		chromedp.SendKeys(chromedp.ID("userName"), "admin"),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
		chromedp.Click(chromedp.ID("login-button")),
	)
	p.waitFor("the home page", `document.body.dataset.view === "home" && localStorage.getItem("refreshToken")`)
	p.do(chromedp.Click(chromedp.ID("check")))
	p.waitFor("the forecast", `document.body.dataset.loads === "1" && document.querySelectorAll("#rows tr").length === 5`)
}

func TestBrowserClassicClient(t *testing.T) {
	t.Parallel()
	browser := startBrowser(t)
	logDuration(t, "classic client scenarios")

	t.Run("login, weather, and three expiry cycles each refreshed once and replayed", func(t *testing.T) {
		t.Parallel()
		page := classicPages(t)
		s := startServe(t, tempDB(t), "--access-ttl", browserTTL.String(), "--cors-origin", page.URL)
		p := newTab(t, browser, nil)
		from := s.since(t)
		classicLogin(p, page.URL, s.URL)
		seen := map[string]bool{eval[string](p, `localStorage.getItem("refreshToken")`): true}
		for cycle := 1; cycle <= 3; cycle++ {
			exp := eval[int64](p, `JSON.parse(atob(localStorage.getItem("jwt").split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).exp`)
			sleepPast(time.Unix(exp, 0).Add(-browserTTL))
			mark := s.since(t)
			p.do(chromedp.Click(chromedp.ID("check")))
			p.waitFor(fmt.Sprintf("refresh and replay, cycle %d", cycle),
				fmt.Sprintf(`document.body.dataset.loads === "%d" && document.body.dataset.refreshes === "%d"`, cycle+1, cycle))
			counts := s.requests(t, mark)
			delete(counts, "OPTIONS /api/JWT/refreshjwt 204") // the first cycle's preflight; checked below
			expectRequests(t, counts, map[string]int{
				"GET /api/WeatherForecast 401": 1, "POST /api/JWT/refreshjwt 200": 1, "GET /api/WeatherForecast 200": 1,
			})
			rt := eval[string](p, `localStorage.getItem("refreshToken")`)
			if seen[rt] {
				t.Errorf("cycle %d: the refresh token was not rotated", cycle)
			}
			seen[rt] = true
		}
		all := s.requests(t, from)
		for _, k := range []string{"OPTIONS /api/JWT/jwtauth 204", "OPTIONS /api/WeatherForecast 204", "OPTIONS /api/JWT/refreshjwt 204"} {
			if all[k] == 0 {
				t.Errorf("no %s: the browser skipped the preflight? %v", k, all)
			}
		}
		for k := range all {
			if strings.HasPrefix(k, "OPTIONS") && !strings.HasSuffix(k, " 204") {
				t.Errorf("a refused preflight: %s", k)
			}
		}
	})

	t.Run("a revoked session takes the logout path after one refresh attempt", func(t *testing.T) {
		t.Parallel()
		page := classicPages(t)
		s := startServe(t, tempDB(t), "--access-ttl", browserTTL.String(), "--cors-origin", page.URL)
		p := newTab(t, browser, nil)
		classicLogin(p, page.URL, s.URL)
		rt := eval[string](p, `localStorage.getItem("refreshToken")`)
		if a := call(t, "POST", s.URL+"/oauth/revoke", "application/x-www-form-urlencoded", url.Values{"token": {rt}}.Encode()); a.Status != 200 {
			t.Fatalf("revoke: %d", a.Status)
		}
		from := s.since(t)
		p.do(chromedp.Click(chromedp.ID("check")))
		p.waitFor("the login page", `document.body.dataset.view === "login" && document.getElementById("error").textContent.includes("Session expired")`)
		counts := s.requests(t, from)
		expectRequests(t, counts, map[string]int{"GET /api/WeatherForecast 401": 1, "POST /api/JWT/refreshjwt 400": 1, "OPTIONS /api/JWT/refreshjwt 204": counts["OPTIONS /api/JWT/refreshjwt 204"]})
		if n := eval[int](p, `localStorage.length`); n != 0 {
			t.Errorf("%d items left in localStorage", n)
		}
	})

	t.Run("a page from an origin not allowed is refused by the browser", func(t *testing.T) {
		t.Parallel()
		allowed, other := classicPages(t), classicPages(t)
		s := startServe(t, tempDB(t), "--cors-origin", allowed.URL)
		p := newTab(t, browser, nil)
		from := s.since(t)
		p.do(chromedp.Navigate(other.URL + "/?api=" + url.QueryEscape(s.URL+"/api/")))
		p.waitFor("the login form", `document.body.dataset.view === "login"`)
		p.do(
			chromedp.SendKeys(chromedp.ID("userName"), "admin"),
			chromedp.SendKeys(chromedp.ID("password"), adminPassword),
			chromedp.Click(chromedp.ID("login-button")),
		)
		p.waitFor("the network error", `document.getElementById("error").textContent.startsWith("Network error")`)
		p.waitConsole("blocked by CORS policy")
		expectRequests(t, s.requests(t, from), map[string]int{"OPTIONS /api/JWT/jwtauth 403": 1})
		if n := eval[int](p, `localStorage.length`); n != 0 {
			t.Errorf("%d items in localStorage", n)
		}
	})
}

// TestServeWebFlag: the page is served by default and --web=false turns it off, leaving the
// JSON API as it was.
func TestServeWebFlag(t *testing.T) {
	t.Parallel()
	on := startServe(t, tempDB(t))
	off := startServe(t, tempDB(t), "--web=false")
	if a := call(t, "GET", on.URL+"/", "", ""); a.Status != 200 || !strings.HasPrefix(a.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(a.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Errorf("default: %d %v", a.Status, a.Header)
	}
	for _, path := range []string{"/", "/web/app.js"} {
		if a := call(t, "GET", off.URL+path, "", ""); a.Status != 404 || a.json(t)["error"] != "not_found" {
			t.Errorf("--web=false %s: %d %s", path, a.Status, a.Body)
		}
	}
	if tok := login(t, off.URL, "admin", adminPassword); tok.Refresh == "" {
		t.Error("--web=false: no refresh token in the JSON answer")
	}
}
