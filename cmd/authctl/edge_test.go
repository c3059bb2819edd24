//go:build unix

package main

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// End-to-end tests of the HTTP edge against the real binary (README "Configuration"):
// connection cap and idle floods, graceful drain on SIGTERM, trusted proxies, the issuer.

// raiseNofile lifts this test process's soft open-file limit to at least n, or skips: the
// flood needs a descriptor per connection on the client side too.
func raiseNofile(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if uint64(lim.Cur) >= n {
		return
	}
	if uint64(lim.Max) < n {
		t.Skipf("the hard open-file limit %d is below the %d this test needs", lim.Max, n)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
}

// openIdle opens n TCP connections to the server at base that never send a byte.
func openIdle(t *testing.T, base string, n int) []net.Conn {
	t.Helper()
	host := strings.TrimPrefix(base, "http://")
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range n {
		c, err := net.DialTimeout("tcp", host, 5*time.Second)
		if err != nil {
			t.Fatalf("idle connection %d: %v", len(conns)+1, err)
		}
		conns = append(conns, c)
	}
	return conns
}

// openFDs counts the descriptors the server process holds (Linux /proc), or skips.
func (p *serveProc) openFDs(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.cmd.Process.Pid))
	if err != nil {
		t.Skipf("cannot count the server's descriptors: %v", err)
	}
	return len(fds)
}

func TestServeServesAGoodClientUnderAnIdleFlood(t *testing.T) {
	t.Parallel()
	raiseNofile(t, 2200)
	s := startServe(t, tempDB(t))
	idle := openIdle(t, s.URL, 2000)

	start := time.Now()
	tok := login(t, s.URL, "admin", adminPassword)
	if a := weather(t, s.URL, tok.Access); a.Status != 200 {
		t.Fatalf("weather under the flood: %d %s", a.Status, a.Body)
	}
	took := time.Since(start)
	t.Logf("login + weather with 2,000 idle connections open: %v (server fds %d)", took.Round(time.Millisecond), s.openFDs(t))
	if took > 3*time.Second {
		t.Errorf("a good client took %v under the flood", took)
	}

	// Connections that never send a request do not keep their slot: the server closes
	// them once the header timeout (5 s) passes.
	idle[0].SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := idle[0].Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("an idle connection was not closed by the server: %v", err)
	}
	t.Logf("the first idle connection was closed after %v", time.Since(start).Round(time.Millisecond))
}

func TestServeConnectionCap(t *testing.T) {
	t.Parallel()
	raiseNofile(t, 400)
	const capacity = 50
	s := startServe(t, tempDB(t), "--max-conns", strconv.Itoa(capacity))
	baseline := s.openFDs(t)

	openIdle(t, s.URL, capacity) // every slot taken by a connection that says nothing
	time.Sleep(300 * time.Millisecond)

	type result struct {
		status int
		err    error
		took   time.Duration
	}
	done := make(chan result, 1)
	go func() {
		start := time.Now()
		hc := &http.Client{Timeout: 20 * time.Second}
		resp, err := hc.Get(s.URL + "/healthz")
		r := result{err: err, took: time.Since(start)}
		if err == nil {
			r.status = resp.StatusCode
			resp.Body.Close()
		}
		done <- r
	}()
	time.Sleep(100 * time.Millisecond)
	openIdle(t, s.URL, 150) // more than the cap: these wait to be accepted
	time.Sleep(300 * time.Millisecond)
	if fds := s.openFDs(t); fds > baseline+capacity+5 {
		t.Errorf("the server holds %d descriptors with %d idle connections; cap %d, %d before the flood", fds, capacity+150, capacity, baseline)
	} else {
		t.Logf("server descriptors: %d before, %d with %d connections open against a cap of %d", baseline, fds, capacity+151, capacity)
	}

	r := <-done
	if r.err != nil || r.status != 200 {
		t.Fatalf("good client: %v %d", r.err, r.status)
	}
	// It waited for a slot, and got one when the header timeout closed the idle ones.
	t.Logf("good client served after %v", r.took.Round(time.Millisecond))
	if r.took < 3*time.Second || r.took > 10*time.Second {
		t.Errorf("good client served after %v; want about the 5 s header timeout", r.took)
	}
}

// rawConn is one HTTP/1.1 connection driven by hand, so that a request can be half sent,
// or sent on a connection that has been idle, at a chosen moment.
type rawConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, base string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{c: c, r: bufio.NewReader(c)}
}

func (rc *rawConn) send(s string) error {
	_, err := io.WriteString(rc.c, s)
	return err
}

// answer reads one response; its Connection header tells whether the server will close.
func (rc *rawConn) answer() (*http.Response, error) {
	rc.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(rc.r, nil)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

// TestServeDrainsOnSIGTERM has 30 requests in flight when SIGTERM arrives — ten logins
// hashing at the production argon2 cost, ten whose body is only half sent, ten written on
// keep-alive connections a moment after the signal — and wants an answer for every one,
// then a clean exit.
func TestServeDrainsOnSIGTERM(t *testing.T) {
	t.Parallel()
	// Loopback is a trusted proxy here so that each login can come from its own address
	// and none is shed by the per-address limit on logins waiting for a hash.
	s := startServe(t, tempDB(t), "--trusted-proxy", "127.0.0.1/32", "--shutdown-timeout", "20s")
	tok := login(t, s.URL, "admin", adminPassword)
	loginBody := fmt.Sprintf(`{"username":"admin","password":%q}`, adminPassword)

	// Ten keep-alive connections, each with one request answered, now idle.
	var keepAlive []*rawConn
	for range 10 {
		rc := dialRaw(t, s.URL)
		if err := rc.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		if resp, err := rc.answer(); err != nil || resp.StatusCode != 200 {
			t.Fatalf("warm-up: %v", err)
		}
		keepAlive = append(keepAlive, rc)
	}
	// Ten logins whose body is half sent.
	var halfSent []*rawConn
	for i := range 10 {
		rc := dialRaw(t, s.URL)
		head := fmt.Sprintf("POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\nX-Forwarded-For: 198.51.100.%d\r\n\r\n", len(loginBody), 100+i)
		if err := rc.send(head + loginBody[:10]); err != nil {
			t.Fatal(err)
		}
		halfSent = append(halfSent, rc)
	}
	// Ten whole logins, each on a new connection, written before the signal.
	type outcome struct {
		status int
		err    error
	}
	results := make(chan outcome, 30)
	var written sync.WaitGroup
	for i := range 10 {
		written.Add(1)
		go func() {
			var once sync.Once
			wrote := func() { once.Do(written.Done) }
			defer wrote()
			req, _ := http.NewRequest("POST", s.URL+"/api/auth/login", strings.NewReader(loginBody))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
			req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
				WroteRequest: func(httptrace.WroteRequestInfo) { wrote() },
			}))
			hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 60 * time.Second}
			resp, err := hc.Do(req)
			if err != nil {
				results <- outcome{err: fmt.Errorf("login: %w", err)}
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			results <- outcome{status: resp.StatusCode}
		}()
	}
	written.Wait()

	signalled := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Once the server says it is draining, the rest is sent. (A fixed pause was not enough
	// on a loaded machine: keep-alive requests were answered before the drain began.)
	for !strings.Contains(s.logs(), "msg=draining") {
		if time.Since(signalled) > 10*time.Second {
			t.Fatalf("no draining line 10 s after SIGTERM:\n%s", s.logs())
		}
		time.Sleep(5 * time.Millisecond)
	}
	var raw sync.WaitGroup
	for _, rc := range halfSent {
		raw.Go(func() {
			err := rc.send(loginBody[10:])
			var resp *http.Response
			if err == nil {
				resp, err = rc.answer()
			}
			if err != nil {
				results <- outcome{err: fmt.Errorf("half-sent login: %w", err)}
				return
			}
			results <- outcome{status: resp.StatusCode}
		})
	}
	for _, rc := range keepAlive {
		raw.Go(func() {
			err := rc.send("GET /api/weather HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok.Access + "\r\n\r\n")
			var resp *http.Response
			if err == nil {
				resp, err = rc.answer()
			}
			switch {
			case err != nil:
				results <- outcome{err: fmt.Errorf("keep-alive weather: %w", err)}
			case !resp.Close:
				results <- outcome{err: fmt.Errorf("keep-alive weather during the drain without Connection: close")}
			default:
				results <- outcome{status: resp.StatusCode}
			}
		})
	}
	raw.Wait()

	statuses := map[int]int{}
	for range 30 {
		o := <-results
		if o.err != nil {
			t.Error(o.err)
			continue
		}
		statuses[o.status]++
	}
	t.Logf("answers after SIGTERM: %v", statuses)
	if statuses[200] != 30 {
		t.Errorf("want 30 × 200, got %v", statuses)
	}

	// The process exits by itself, cleanly, and says what it drained.
	exited := make(chan error, 1)
	go func() {
		for !strings.Contains(s.logs(), "msg=drained") && time.Since(signalled) < 30*time.Second {
			time.Sleep(50 * time.Millisecond)
		}
		exited <- s.cmd.Wait()
	}()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("serve exited with %v:\n%s", err, s.logs())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve still running 30 s after SIGTERM:\n%s", s.logs())
	}
	t.Logf("exit %v after SIGTERM", time.Since(signalled).Round(time.Millisecond))
	m := regexp.MustCompile(`msg=drained answered=(\d+)`).FindStringSubmatch(s.logs())
	if m == nil {
		t.Errorf("no drain line in the log:\n%s", s.logs())
	} else if n, _ := strconv.Atoi(m[1]); n < 20 {
		t.Errorf("the drain line counts %d answered requests; at least the 20 sent after the signal were", n)
	}
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(s.URL, "http://"), time.Second); err == nil {
		c.Close()
		t.Error("still accepting connections after the drain")
	}
}

// TestServeShutdownTimeoutBoundsTheDrain: a request that never finishes (its body never
// completes) is cut off when --shutdown-timeout ends, and the exit says so.
func TestServeShutdownTimeoutBoundsTheDrain(t *testing.T) {
	t.Parallel()
	s := startServe(t, tempDB(t), "--shutdown-timeout", "2s")
	rc := dialRaw(t, s.URL)
	if err := rc.send("POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	s.cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() {
		for !strings.Contains(s.logs(), "cut off") && time.Since(start) < 10*time.Second {
			time.Sleep(50 * time.Millisecond)
		}
		exited <- s.cmd.Wait()
	}()
	select {
	case err := <-exited:
		took := time.Since(start)
		if err == nil || took > 5*time.Second || !strings.Contains(s.logs(), "cut_off=1") {
			t.Errorf("exit %v after %v; log:\n%s", err, took, s.logs())
		}
		t.Logf("exit %v after %v", err, took.Round(time.Millisecond))
	case <-time.After(15 * time.Second):
		t.Fatalf("serve did not stop:\n%s", s.logs())
	}
}

// TestServeTrustedProxy: behind a trusted proxy, clients are told apart by the address the
// proxy forwards, so one client's failures no longer lock out everyone behind it; from an
// untrusted peer the same headers change nothing.
func TestServeTrustedProxy(t *testing.T) {
	t.Parallel()
	failUntilLimited := func(t *testing.T, base, from string) {
		t.Helper()
		for i := range 60 {
			body := fmt.Sprintf(`{"username":"nobody%d","password":"guess"}`, i)
			a := call(t, "POST", base+"/api/auth/login", "application/json", body, "X-Forwarded-For", "6.6.6.6, "+from)
			if a.Status == 429 {
				return
			}
		}
		t.Fatalf("no 429 after 60 failures from %s", from)
	}
	loginFrom := func(t *testing.T, base, from string) int {
		t.Helper()
		return call(t, "POST", base+"/api/auth/login", "application/json",
			fmt.Sprintf(`{"username":"admin","password":%q}`, adminPassword), "X-Forwarded-For", from).Status
	}

	t.Run("trusted: the forwarded address is the key", func(t *testing.T) {
		t.Parallel()
		s := startServe(t, tempDB(t), "--trusted-proxy", "127.0.0.0/8")
		failUntilLimited(t, s.URL, "198.51.100.1")
		if a := call(t, "POST", s.URL+"/api/auth/login", "application/json", `{"username":"nobody","password":"guess"}`,
			"X-Forwarded-For", "198.51.100.1"); a.Status != 429 {
			t.Errorf("the limited client's next guess: %d", a.Status)
		}
		if st := loginFrom(t, s.URL, "198.51.100.2"); st != 200 {
			t.Errorf("another client behind the proxy: %d", st)
		}
		if !s.waitLog("addr=198.51.100.2") || strings.Contains(s.logs(), "addr=6.6.6.6") {
			t.Errorf("the access log does not name the forwarded client (and only it):\n%s", s.logs())
		}
	})
	t.Run("untrusted: the headers are ignored", func(t *testing.T) {
		t.Parallel()
		s := startServe(t, tempDB(t))
		failUntilLimited(t, s.URL, "198.51.100.1")
		if st := loginFrom(t, s.URL, "198.51.100.2"); st != 429 {
			t.Errorf("a forged X-Forwarded-For escaped the limit: %d", st)
		}
	})
}

// TestServeIssuerIsTheURL: by default iss, the metadata's issuer and its base are the URL
// the server is reached at; a plain-name issuer needs --allow-non-url-issuer.
func TestServeIssuerIsTheURL(t *testing.T) {
	t.Parallel()
	s := startServe(t, tempDB(t))
	tok := login(t, s.URL, "admin", adminPassword)
	md := call(t, "GET", s.URL+"/.well-known/oauth-authorization-server", "", "")
	m := md.json(t)
	if m["issuer"] != s.URL || m["token_endpoint"] != s.URL+"/oauth/token" || md.Header.Get("Cache-Control") == "" {
		t.Errorf("metadata %v (Cache-Control %q); want everything under %s", m, md.Header.Get("Cache-Control"), s.URL)
	}
	if iss := claims(t, tok.Access)["iss"]; iss != s.URL {
		t.Errorf("iss %v; want %s", iss, s.URL)
	}

	out, err := runAuthctl("serve", "--addr", "127.0.0.1:0", "--db", tempDB(t), "--issuer", "authctl")
	if err == nil || !strings.Contains(out, "--allow-non-url-issuer") {
		t.Errorf("a plain-name issuer was not refused: %v\n%s", err, out)
	}
	legacy := startServe(t, tempDB(t), "--issuer", "authctl", "--allow-non-url-issuer", "--public-url", "https://auth.example.com")
	if iss := claims(t, login(t, legacy.URL, "admin", adminPassword).Access)["iss"]; iss != "authctl" {
		t.Errorf("legacy iss %v", iss)
	}
	m = call(t, "GET", legacy.URL+"/.well-known/oauth-authorization-server", "", "").json(t)
	if m["issuer"] != "authctl" || m["token_endpoint"] != "https://auth.example.com/oauth/token" {
		t.Errorf("legacy metadata %v", m)
	}
}

// claims decodes a JWT's payload without verifying it.
func claims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT")
	}
	return answer{Body: mustB64(t, parts[1])}.json(t)
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// runAuthctl runs the binary to completion and returns its combined output.
func runAuthctl(args ...string) (string, error) {
	bin, err := exec.LookPath("authctl")
	if err != nil {
		return "", err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "AUTHCTL_ADMIN_PASSWORD="+adminPassword)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
