package main

import (
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The login limits of README "Security notes", tried from outside against the real binary.
// Different client addresses are different loopback source addresses (127.0.0.0/8 is all
// local on Linux), so the server sees them as it would see different hosts.

// peer is an HTTP client whose connections come from one loopback address.
type peer struct {
	ip     string
	dialer *net.Dialer
	client *http.Client
}

func newPeer(t *testing.T, ip string) *peer {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	if c, err := d.Dial("tcp", "127.0.0.1:9"); err != nil && strings.Contains(err.Error(), "assign requested address") {
		t.Skipf("cannot send from %s: %v", ip, err)
	} else if c != nil {
		c.Close()
	}
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 1000, MaxConnsPerHost: 0}
	t.Cleanup(tr.CloseIdleConnections)
	return &peer{ip: ip, dialer: d, client: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

// login posts a login and returns the status and Retry-After; safe in any goroutine.
func (p *peer) login(base, user, pw string) (int, string, error) {
	req, err := http.NewRequest("POST", base+"/api/auth/login",
		strings.NewReader(fmt.Sprintf(`{"username":%q,"password":%q}`, user, pw)))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), nil
}

// rawLogin is login on a fresh connection with as little client work as possible, so that
// a flood from this process costs the server what a remote one would, and the test's own
// scheduler little.
func (p *peer) rawLogin(base, user, pw string) (int, error) {
	host := strings.TrimPrefix(base, "http://")
	c, err := p.dialer.Dial("tcp", host)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	body := fmt.Sprintf(`{"username":%q,"password":%q}`, user, pw)
	fmt.Fprintf(c, "POST /api/auth/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", host, len(body), body)
	var status int
	if _, err := fmt.Fscanf(c, "HTTP/1.1 %d", &status); err != nil {
		return 0, err
	}
	return status, nil
}

// timedLogin is a right-password login that must succeed; it returns how long it took.
func (p *peer) timedLogin(t *testing.T, base string) time.Duration {
	t.Helper()
	start := time.Now()
	status, _, err := p.login(base, "admin", adminPassword)
	took := time.Since(start)
	if err != nil || status != 200 {
		t.Fatalf("login from %s: %d %v", p.ip, status, err)
	}
	return took
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func TestAttackConcurrentGuessesForOneUser(t *testing.T) {
	t.Parallel()
	s := startServe(t, tempDB(t))
	attacker, victim := newPeer(t, "127.0.0.1"), newPeer(t, "127.0.0.2")

	const n, limit = 40, 5 // limit: the documented failures per (user, address)
	statuses := make([]int, n)
	retry := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		pw := fmt.Sprint("guess-", i)
		if i == n-1 {
			pw = adminPassword
		}
		wg.Go(func() {
			<-start
			if i == n-1 {
				time.Sleep(20 * time.Millisecond) // the right password last
			}
			statuses[i], retry[i], errs[i] = attacker.login(s.URL, "admin", pw)
		})
	}
	close(start)
	wg.Wait()
	evaluated, limited := 0, 0
	for i, st := range statuses {
		switch {
		case errs[i] != nil:
			t.Fatal(errs[i])
		case st == 401 || st == 200:
			evaluated++
		case st == 429:
			limited++
			if retry[i] == "" {
				t.Errorf("429 without Retry-After")
			}
		default:
			t.Errorf("status %d", st)
		}
	}
	t.Logf("%d concurrent logins for admin from one address: %d evaluated, %d × 429; the right password got %d",
		n, evaluated, limited, statuses[n-1])
	if evaluated > limit || limited != n-evaluated {
		t.Errorf("%d passwords evaluated, %d refused; want at most %d evaluated", evaluated, limited, limit)
	}
	if statuses[n-1] != 429 {
		t.Errorf("the right password, sent after the limit was used up, got %d", statuses[n-1])
	}

	t.Run("the victim logs in from another address at once", func(t *testing.T) {
		victim.timedLogin(t, s.URL)
	})
	t.Run("the attacker's address is still refused", func(t *testing.T) {
		if st, _, err := attacker.login(s.URL, "admin", adminPassword); err != nil || st != 429 {
			t.Errorf("%d %v", st, err)
		}
	})
	logs := s.logs()
	if n := strings.Count(logs, `msg="login failed"`) + strings.Count(logs, `msg="login refused"`); n > 20 {
		t.Errorf("%d lines for failed and refused logins; want at most 10 of each", n)
	}
	if strings.Contains(logs, "guess-") {
		t.Error("a password reached the log")
	}
}

// loadAverage is the one-minute load average, or 0 where /proc/loadavg is missing.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var load float64
	fmt.Sscan(string(b), &load)
	return load
}

func TestAttackFloodFromOneAddress(t *testing.T) {
	t.Parallel()
	s := startServe(t, tempDB(t))
	attacker, victim := newPeer(t, "127.0.0.1"), newPeer(t, "127.0.0.3")
	victim.timedLogin(t, s.URL) // warm up: the connection, the dummy hash, the caches

	// Up to three tries, each measuring the quiet latency right before its flood: the
	// machine is shared, and a noisy neighbour should not fail the test.
	const flood = 600
	best := math.Inf(1)
	for try := range 3 {
		var q []time.Duration
		for range 5 {
			q = append(q, victim.timedLogin(t, s.URL))
		}
		quiet := median(q)

		counts := map[int]int{}
		var mu sync.Mutex
		var wg, sent sync.WaitGroup
		sent.Add(flood)
		done := make(chan struct{})
		for i := range flood {
			wg.Go(func() {
				sent.Done()
				st, err := attacker.rawLogin(s.URL, fmt.Sprintf("spray-%d-%d", try, i), "flood guess")
				if err != nil {
					st = -1
				}
				mu.Lock()
				counts[st]++
				mu.Unlock()
			})
		}
		go func() { wg.Wait(); close(done) }()
		sent.Wait()
		var d []time.Duration
		for flooding := true; flooding || len(d) == 0; {
			d = append(d, victim.timedLogin(t, s.URL))
			select {
			case <-done:
				flooding = false
			default:
			}
		}
		<-done
		during := median(d)
		best = min(best, float64(during)/float64(quiet))
		t.Logf("try %d: quiet login %v (median of 5), during a %d-request flood %v (median of %v); flood answers %v",
			try+1, quiet, flood, during, d, counts)
		if counts[-1] > 0 || counts[200] > 0 || counts[401] > 20 || counts[401]+counts[429]+counts[503] != flood {
			t.Fatalf("flood answers %v; want at most the address's 20 failures evaluated, the rest 429/503", counts)
		}
		if best <= 2 {
			break
		}
	}
	// The 600 requests themselves, and this process sending them, cost some 100 ms of CPU
	// (measured: about 50 ms in the server, 60 ms in the client); on a machine already
	// running more threads than it has CPUs, that alone can more than double a 25 ms login.
	// There the 2× bound cannot be judged, and the test checks what the server decides: the
	// victim is not queued behind the flood's hashes, which cost 10× and more (before the
	// fair queue: 7.8 s against 0.08 s).
	switch load, cpus := loadAverage(), runtime.NumCPU(); {
	case best <= 2:
	case load > float64(cpus) && best <= 10:
		t.Logf("best ratio %.1f×: not judged against 2× with a load average of %.1f on %d CPUs", best, load, cpus)
	default:
		t.Errorf("login during the flood took %.1f× its quiet latency at best (load average %.1f on %d CPUs)", best, load, cpus)
	}
	logs := s.logs()
	if n := len(regexp.MustCompile(`msg="login (failed|refused)"`).FindAllString(logs, -1)); n > 3*20 {
		t.Errorf("%d individual lines for failed and refused logins in three floods", n)
	}
}
