package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"
)

// freshDatabase creates an empty PostgreSQL database for one test and returns its URL. It
// skips when PostgreSQL is unreachable unless AUTHCTL_TEST_POSTGRES_REQUIRED=1.
func freshDatabase(t *testing.T) string {
	t.Helper()
	base := os.Getenv("AUTHCTL_TEST_POSTGRES")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		if os.Getenv("AUTHCTL_TEST_POSTGRES_REQUIRED") == "1" {
			t.Fatalf("PostgreSQL required but unreachable: %v", err)
		}
		t.Skipf("PostgreSQL unreachable: %v", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 5)
	rand.Read(b)
	name := "authctl_e2e_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err == nil {
			c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			c.Close(context.Background())
		}
	})
	u, _ := url.Parse(base)
	u.Path = "/" + name
	return u.String()
}

// replicaURL is the one public URL of the replicas, as behind a load balancer: the issuer
// of every token, whichever port a replica happens to listen on.
const replicaURL = "https://authctl.example"

func TestReplicasActAsOneServer(t *testing.T) {
	t.Parallel()
	db := freshDatabase(t)
	a := startServe(t, db, "--reuse-grace", "1s", "--public-url", replicaURL)
	b := startServe(t, db, "--reuse-grace", "1s", "--public-url", replicaURL)
	c := startServe(t, db, "--reuse-grace", "1s", "--public-url", replicaURL)

	t.Run("login on A, refresh on B, weather on C", func(t *testing.T) {
		t0 := login(t, a.URL, "admin", adminPassword)
		t1, ans := refresh(t, b.URL, t0.Refresh)
		if ans.Status != 200 {
			t.Fatalf("refresh on B: %d %s", ans.Status, ans.Body)
		}
		if ans := weather(t, c.URL, t1.Access); ans.Status != 200 {
			t.Errorf("weather on C: %d %s", ans.Status, ans.Body)
		}
	})
	t.Run("logout on B is refused on A within a second", func(t *testing.T) {
		tok := login(t, a.URL, "admin", adminPassword)
		if ans := weather(t, a.URL, tok.Access); ans.Status != 200 {
			t.Fatalf("weather: %d", ans.Status)
		}
		start := time.Now()
		if ans := call(t, "POST", b.URL+"/api/auth/logout", "application/json", fmt.Sprintf(`{"refresh_token":%q}`, tok.Refresh)); ans.Status != 204 {
			t.Fatalf("logout: %d", ans.Status)
		}
		for weather(t, a.URL, tok.Access).Status != 401 {
			if time.Since(start) > time.Second {
				t.Fatal("A still accepts the access token 1 s after logout on B")
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Logf("A refused it %v after the logout on B", time.Since(start).Round(time.Millisecond))
	})
	t.Run("reuse of a rotated token on C revokes the family everywhere", func(t *testing.T) {
		t0 := login(t, a.URL, "admin", adminPassword)
		t1, _ := refresh(t, b.URL, t0.Refresh)
		time.Sleep(1100 * time.Millisecond)
		if _, ans := refresh(t, c.URL, t0.Refresh); ans.Status != 400 {
			t.Fatalf("reuse on C: %d %s", ans.Status, ans.Body)
		}
		if _, ans := refresh(t, a.URL, t1.Refresh); ans.Status != 400 {
			t.Errorf("successor on A still works: %d", ans.Status)
		}
		deadline := time.Now().Add(time.Second)
		for _, s := range []*serveProc{a, b, c} {
			for weather(t, s.URL, t1.Access).Status != 401 {
				if time.Now().After(deadline) {
					t.Fatalf("%s still accepts the revoked family's access token", s.URL)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	})
	t.Run("32 concurrent refreshes of one token over three replicas yield one successor", func(t *testing.T) {
		t0 := login(t, a.URL, "admin", adminPassword)
		var wg sync.WaitGroup
		got := make([]string, 32)
		status := make([]int, 32)
		for i := range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tok, ans, err := tryRefresh([]*serveProc{a, b, c}[i%3].URL, t0.Refresh)
				if err != nil {
					t.Error(err)
					return
				}
				got[i], status[i] = tok.Refresh, ans.Status
			}()
		}
		wg.Wait()
		for i := range got {
			if status[i] != 200 || got[i] != got[0] {
				t.Fatalf("refresh %d: status %d, same successor %v", i, status[i], got[i] == got[0])
			}
		}
	})
	t.Run("keys rotate: every replica signs with the new key and still verifies the old", func(t *testing.T) {
		old := login(t, a.URL, "admin", adminPassword)
		bin, _ := exec.LookPath("authctl")
		if out, err := exec.Command(bin, "keys", "rotate", "--db", db).CombinedOutput(); err != nil {
			t.Fatalf("keys rotate: %v %s", err, out)
		}
		kidOf := func(tok string) string {
			var c jwt.MapClaims
			p, _, _ := jwt.NewParser().ParseUnverified(tok, &c)
			return p.Header["kid"].(string)
		}
		// A new key is published for 2 polls + 1 s before any replica signs with it.
		deadline := time.Now().Add(10 * time.Second)
		for {
			fresh := login(t, c.URL, "admin", adminPassword)
			if kidOf(fresh.Access) != kidOf(old.Access) {
				if ans := weather(t, b.URL, fresh.Access); ans.Status != 200 {
					t.Errorf("B rejects the new key's token: %d", ans.Status)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("C still signs with the old key 10 s after the rotation")
			}
			time.Sleep(200 * time.Millisecond)
		}
		if ans := weather(t, b.URL, old.Access); ans.Status != 200 {
			t.Errorf("the old key's token is refused: %d", ans.Status)
		}
		if keys := call(t, "GET", a.URL+"/.well-known/jwks.json", "", "").json(t)["keys"].([]any); len(keys) != 2 {
			t.Errorf("JWKS lists %d keys, want the old and the new", len(keys))
		}
	})
	t.Run("a replica restarted mid-load loses no session", func(t *testing.T) {
		stop := make(chan struct{})
		var failures atomic.Int64
		var done sync.WaitGroup
		for i := range 4 {
			done.Add(1)
			go func() {
				defer done.Done()
				tok, _, err := tryLogin([]*serveProc{a, c}[i%2].URL, "admin", adminPassword)
				if err != nil {
					failures.Add(1)
					t.Errorf("chain %d: %v", i, err)
					return
				}
				for n := 0; ; n++ {
					select {
					case <-stop:
						ans, err := tryCall("GET", b.URL+"/api/weather", "", "", "Authorization", "Bearer "+tok.Access)
						if err != nil || ans.Status != 200 {
							failures.Add(1)
							t.Errorf("chain %d after the restart: %d %v", i, ans.Status, err)
						}
						return
					default:
					}
					next, ans, err := tryRefresh([]*serveProc{a, c}[n%2].URL, tok.Refresh)
					if err != nil || ans.Status != 200 {
						failures.Add(1)
						t.Errorf("chain %d: %d %s %v", i, ans.Status, ans.Body, err)
						return
					}
					tok = next
				}
			}()
		}
		time.Sleep(300 * time.Millisecond)
		b.stop(syscall.SIGTERM)
		b = startServe(t, db, "--reuse-grace", "1s", "--public-url", replicaURL)
		time.Sleep(300 * time.Millisecond)
		close(stop)
		done.Wait()
	})
}

// cutProxy forwards TCP to PostgreSQL and can drop every connection on demand.
type cutProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln}
	t.Cleanup(func() { ln.Close(); p.setCut(true) })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.cut {
				p.mu.Unlock()
				in.Close()
				continue
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				in.Close()
				continue
			}
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go func() { io.Copy(out, in); out.Close() }()
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
	return p
}

func (p *cutProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

func TestReplicaSurvivesDatabaseLoss(t *testing.T) {
	t.Parallel()
	db := freshDatabase(t)
	u, _ := url.Parse(db)
	proxy := newCutProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	s := startServe(t, u.String())
	tok := login(t, s.URL, "admin", adminPassword)

	proxy.setCut(true)
	ans := call(t, "POST", s.URL+"/api/auth/login", "application/json", `{"username":"admin","password":"`+adminPassword+`"}`)
	if ans.Status != 503 || ans.json(t)["error"] != "temporarily_unavailable" {
		t.Errorf("login with the database gone: %d %s", ans.Status, ans.Body)
	}
	if _, ans := refresh(t, s.URL, tok.Refresh); ans.Status != 503 {
		t.Errorf("refresh with the database gone: %d %s", ans.Status, ans.Body)
	}
	if ans := weather(t, s.URL, tok.Access); ans.Status != 200 {
		t.Errorf("verifying an access token needs no database, got %d", ans.Status)
	}

	proxy.setCut(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, ans := refresh(t, s.URL, tok.Refresh)
		if ans.Status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after the database returned: %d %s", ans.Status, ans.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
