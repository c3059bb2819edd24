// Command soak drives a running `authctl serve` with a mixed, rate-bounded load for a fixed
// time and reports, once a minute, the server's resident memory, open file descriptors and
// database size, plus every unexpected answer. bench/soak.sh starts the server and runs it.
//
// The load, per second: logins of real users (each starting a session that calls the weather,
// refreshes and finally logs out), one client refreshing in a tight loop (the hostile
// refresher that storage must stay bounded against), wrong-password guesses from several
// client addresses (answered 401 or 429: both expected), and a stream of distinct access
// tokens for the verified-token cache. Only loopback is ever addressed.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type counters struct {
	ok, limited, refused atomic.Int64 // refused: 401 where the scenario expects it
	unexpected           atomic.Int64
	mu                   sync.Mutex
	samples              []string // the first few unexpected answers, for the report
}

func (c *counters) bad(format string, args ...any) {
	c.unexpected.Add(1)
	c.mu.Lock()
	if len(c.samples) < 10 {
		c.samples = append(c.samples, fmt.Sprintf(format, args...))
	}
	c.mu.Unlock()
}

type soak struct {
	base     string
	password string
	hc       *http.Client
	c        counters
}

func main() {
	base := flag.String("url", "http://127.0.0.1:5000", "server URL (loopback only)")
	pid := flag.Int("pid", 0, "server process id, for RSS and fd figures")
	db := flag.String("db", "", "SQLite database file, for its size (empty: not reported)")
	dur := flag.Duration("duration", 10*time.Minute, "how long to run")
	every := flag.Duration("every", time.Minute, "how often to sample")
	users := flag.Int("users", 4, "users to log in as (created beforehand as soak0..soakN-1)")
	flag.Parse()
	u, err := url.Parse(*base)
	if err != nil || !(u.Hostname() == "127.0.0.1" || u.Hostname() == "localhost" || u.Hostname() == "::1") {
		fmt.Fprintln(os.Stderr, "soak: -url must be a loopback URL")
		os.Exit(2)
	}
	s := &soak{
		base:     strings.TrimRight(*base, "/"),
		password: os.Getenv("SOAK_PASSWORD"),
		hc:       &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), *dur)
	defer cancel()

	var wg sync.WaitGroup
	run := func(f func(context.Context)) { wg.Add(1); go func() { defer wg.Done(); f(ctx) }() }
	for i := range *users {
		run(func(ctx context.Context) { s.sessions(ctx, fmt.Sprintf("soak%d", i)) })
	}
	run(func(ctx context.Context) { s.refreshLoop(ctx, "soak0") })
	for i := range 4 {
		run(func(ctx context.Context) { s.guesses(ctx, fmt.Sprintf("198.51.100.%d", i+1)) })
	}

	fmt.Printf("%-6s %10s %6s %12s %10s %8s %8s %10s\n", "minute", "rss_kib", "fds", "db_bytes", "ok", "401", "429", "unexpected")
	start := time.Now()
	tick := time.NewTicker(*every)
	defer tick.Stop()
	sample := func() {
		fmt.Printf("%-6.1f %10d %6d %12d %10d %8d %8d %10d\n", time.Since(start).Minutes(), rss(*pid), fds(*pid), dbSize(*db),
			s.c.ok.Load(), s.c.refused.Load(), s.c.limited.Load(), s.c.unexpected.Load())
	}
	sample()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			sample()
		}
	}
	wg.Wait()
	sample()
	for _, m := range s.c.samples {
		fmt.Println("unexpected:", m)
	}
	if n := s.c.unexpected.Load(); n > 0 {
		fmt.Printf("soak: %d unexpected answers\n", n)
		os.Exit(1)
	}
	fmt.Println("soak: 0 unexpected answers")
}

type tokenResponse struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
}

// post sends JSON and returns the status and body; a transport error counts as unexpected
// (unless the run is over) and comes back as status 0.
func (s *soak) do(ctx context.Context, method, path, bearer string, body any, header ...string) (int, []byte) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, rd)
	if err != nil {
		s.c.bad("%s %s: %v", method, path, err)
		return 0, nil
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
			s.c.bad("%s %s: %v", method, path, err)
		}
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// expect counts an answer: want is the status the scenario expects.
func (s *soak) expect(status int, body []byte, what string, want ...int) bool {
	if status == 0 {
		return false
	}
	for _, w := range want {
		if status == w {
			switch status {
			case 429:
				s.c.limited.Add(1)
			case 401:
				s.c.refused.Add(1)
			default:
				s.c.ok.Add(1)
			}
			return true
		}
	}
	s.c.bad("%s: %d %.200s", what, status, body)
	return false
}

func (s *soak) login(ctx context.Context, user string) (tokenResponse, bool) {
	return s.tokens(ctx, "/api/auth/login", "login "+user, map[string]string{"username": user, "password": s.password})
}

// loginOrPause logs user in, or after a failure (already counted) pauses a second so that a
// failing server is not hammered.
func (s *soak) loginOrPause(ctx context.Context, user string) (tokenResponse, bool) {
	t, ok := s.login(ctx, user)
	if !ok {
		pause(ctx, time.Second)
	}
	return t, ok
}

func (s *soak) refresh(ctx context.Context, rt string) (tokenResponse, bool) {
	return s.tokens(ctx, "/api/auth/refresh", "refresh", map[string]string{"refresh_token": rt})
}

// tokens posts body to path, an endpoint answering with tokens; what names the call in the
// failures counted.
func (s *soak) tokens(ctx context.Context, path, what string, body map[string]string) (tokenResponse, bool) {
	st, b := s.do(ctx, "POST", path, "", body)
	if !s.expect(st, b, what, 200) {
		return tokenResponse{}, false
	}
	var t tokenResponse
	if err := json.Unmarshal(b, &t); err != nil {
		s.c.bad("%s: %v", what, err)
		return tokenResponse{}, false
	}
	return t, true
}

// sessions: log in, call the weather a few times, refresh (each refresh is a new access
// token for the cache), log out, and check the logged-out token is refused. About two
// sessions a second per user.
func (s *soak) sessions(ctx context.Context, user string) {
	for ctx.Err() == nil {
		t, ok := s.loginOrPause(ctx, user)
		if !ok {
			continue
		}
		for range 5 {
			st, b := s.do(ctx, "GET", "/api/weather?days=3", t.Access, nil)
			s.expect(st, b, "weather", 200)
			if next, ok := s.refresh(ctx, t.Refresh); ok {
				t = next
			}
			pause(ctx, 50*time.Millisecond)
		}
		st, b := s.do(ctx, "POST", "/api/auth/logout", "", map[string]string{"refresh_token": t.Refresh})
		s.expect(st, b, "logout", 204)
		st, b = s.do(ctx, "GET", "/api/weather", t.Access, nil)
		if ctx.Err() == nil {
			s.expect(st, b, "weather after logout", 401)
		}
		pause(ctx, 200*time.Millisecond)
	}
}

// refreshLoop is one client refreshing as fast as the server answers (bounded to 200/s).
func (s *soak) refreshLoop(ctx context.Context, user string) {
	for ctx.Err() == nil {
		t, ok := s.loginOrPause(ctx, user)
		if !ok {
			continue
		}
		for ctx.Err() == nil {
			next, ok := s.refresh(ctx, t.Refresh)
			if !ok {
				break
			}
			t = next
			pause(ctx, 5*time.Millisecond)
		}
	}
}

// guesses sends wrong passwords for random-looking names from one client address (as
// X-Forwarded-For, honoured only when the server trusts loopback as a proxy; otherwise all
// guessers share 127.0.0.1): 401 and 429 are both expected answers.
func (s *soak) guesses(ctx context.Context, addr string) {
	for i := 0; ctx.Err() == nil; i++ {
		name := "guess" + strconv.Itoa(i%50)
		st, b := s.do(ctx, "POST", "/api/auth/login", "", map[string]string{"username": name, "password": "wrong"},
			"X-Forwarded-For", addr)
		s.expect(st, b, "wrong login", 401, 429)
		pause(ctx, 100*time.Millisecond)
	}
}

func pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return -1
}

func fds(pid int) int {
	es, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(es)
}

func dbSize(path string) int64 {
	if path == "" {
		return 0
	}
	var n int64
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if fi, err := os.Stat(filepath.Clean(p)); err == nil {
			n += fi.Size()
		}
	}
	return n
}
