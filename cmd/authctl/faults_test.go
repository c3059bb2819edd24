package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/storetest"
)

// End-to-end tests of the store's faults and bounds against the real binary (issue 8): a
// stalled database, a database file deleted under the server, and a refresh loop that must
// not grow the database.

// patient is a client that waits longer than any answer the tests accept, so that a server
// that hangs fails the test instead of hanging it.
var patient = &http.Client{Timeout: 15 * time.Second}

// timedCall is a request with how long its answer took.
func timedCall(method, url, body string) (answer, time.Duration, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return answer{}, 0, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := patient.Do(req)
	if err != nil {
		return answer{}, time.Since(start), err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}, time.Since(start), err
}

// waitStatus polls url until it answers want, for at most within.
func waitStatus(url string, want int, within time.Duration) (int, error) {
	deadline := time.Now().Add(within)
	for {
		a, _, err := timedCall("GET", url, "")
		if err == nil && a.Status == want {
			return a.Status, nil
		}
		if time.Now().After(deadline) {
			return a.Status, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestStalledDatabase: PostgreSQL stops answering without closing anything (a TCP proxy
// that stops forwarding) under three replicas. Each answers login and refresh with a 503
// JSON error within 5 s, /readyz with 503, /healthz with 200 at once, and access tokens
// still verify; when the database answers again, so do they.
func TestStalledDatabase(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(freshDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := storetest.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	var replicas []*serveProc
	for range 3 {
		replicas = append(replicas, startServe(t, u.String(), "--public-url", replicaURL))
	}
	tok := login(t, replicas[0].URL, "admin", adminPassword)
	for _, s := range replicas {
		if st, err := waitStatus(s.URL+"/readyz", 200, 5*time.Second); err != nil || st != 200 {
			t.Fatalf("%s/readyz before the stall: %d %v", s.URL, st, err)
		}
	}

	proxy.Stall()
	stalled := time.Now()
	var wg sync.WaitGroup
	for i, s := range replicas {
		wg.Go(func() {
			loginBody := fmt.Sprintf(`{"username":"admin","password":%q}`, adminPassword)
			for _, c := range []struct{ what, path, body string }{
				{"login", "/api/auth/login", loginBody},
				{"refresh", "/api/auth/refresh", fmt.Sprintf(`{"refresh_token":%q}`, tok.Refresh)},
			} {
				a, took, err := timedCall("POST", s.URL+c.path, c.body)
				if err != nil || a.Status != 503 || !strings.Contains(string(a.Body), `"error":"temporarily_unavailable"`) || took > 5*time.Second {
					t.Errorf("replica %d %s with the database stalled: %d %s after %v (%v); want a 503 JSON error within 5 s",
						i, c.what, a.Status, a.Body, took.Round(time.Millisecond), err)
				}
			}
			if a, took, err := timedCall("GET", s.URL+"/healthz", ""); err != nil || a.Status != 200 || took > time.Second {
				t.Errorf("replica %d /healthz: %d after %v (%v); want 200 at once: the process is alive", i, a.Status, took, err)
			}
			if st, err := waitStatus(s.URL+"/readyz", 503, 5*time.Second-time.Since(stalled)); st != 503 {
				t.Errorf("replica %d /readyz within 5 s of the stall: %d %v, want 503", i, st, err)
			}
			if a := weather(t, s.URL, tok.Access); a.Status != 200 {
				t.Errorf("replica %d: verifying an access token needs no database, got %d", i, a.Status)
			}
		})
	}
	wg.Wait()

	proxy.Resume()
	for i, s := range replicas {
		if st, err := waitStatus(s.URL+"/readyz", 200, 15*time.Second); st != 200 {
			t.Errorf("replica %d /readyz after the database answered again: %d %v", i, st, err)
		}
	}
	if _, a := refresh(t, replicas[1].URL, tok.Refresh); a.Status != 200 {
		t.Errorf("refresh after the stall: %d %s", a.Status, a.Body)
	}
}

// TestDatabaseFileDeleted: deleting the SQLite file under a running server makes /readyz
// 503 and logs an ERROR naming the file; writes are refused rather than lost, and the
// server does not create an empty database in its place.
func TestDatabaseFileDeleted(t *testing.T) {
	t.Parallel()
	db := tempDB(t)
	s := startServe(t, db)
	tok := login(t, s.URL, "admin", adminPassword)
	if err := os.Remove(db); err != nil {
		t.Fatal(err)
	}
	if st, err := waitStatus(s.URL+"/readyz", 503, 5*time.Second); st != 503 {
		t.Fatalf("/readyz after the file was deleted: %d %v", st, err)
	}
	for _, c := range []struct{ what, path, body string }{
		{"login", "/api/auth/login", fmt.Sprintf(`{"username":"admin","password":%q}`, adminPassword)},
		{"refresh", "/api/auth/refresh", fmt.Sprintf(`{"refresh_token":%q}`, tok.Refresh)},
	} {
		if a, _, err := timedCall("POST", s.URL+c.path, c.body); err != nil || a.Status != 503 {
			t.Errorf("%s into a deleted file: %d %s %v, want 503", c.what, a.Status, a.Body, err)
		}
	}
	if a, _, err := timedCall("GET", s.URL+"/healthz", ""); err != nil || a.Status != 200 {
		t.Errorf("/healthz: %d %v", a.Status, err)
	}
	logs := s.logs()
	if !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, db+" is gone") {
		t.Errorf("no ERROR line naming the deleted file:\n%s", logs)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("%s exists again while the server runs: %v", db, err)
	}
}

// refreshLoopFor is how long TestRefreshLoopLeavesTheDatabaseSmall refreshes.
const refreshLoopFor = 60 * time.Second

// dbBound is the size TestRefreshLoopLeavesTheDatabaseSmall holds the SQLite database and
// its WAL to (README "Security notes"). Without the trimming in Rotate, the loop left
// 136,000 token rows and 31 MiB on the test machine.
const dbBound = 8 << 20

// TestRefreshLoopLeavesTheDatabaseSmall: one client refreshing as fast as it can for a
// minute leaves a database (file and WAL) under dbBound, holding at most
// 2 × SpentTokensKept tokens of its family.
func TestRefreshLoopLeavesTheDatabaseSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("refreshes for a minute")
	}
	t.Parallel()
	db := tempDB(t)
	s := startServe(t, db)
	tok := login(t, s.URL, "admin", adminPassword)
	size := func() int64 {
		var n int64
		for _, p := range []string{db, db + "-wal"} {
			if fi, err := os.Stat(p); err == nil {
				n += fi.Size()
			}
		}
		return n
	}
	var refreshes int
	var largest int64
	end := time.Now().Add(refreshLoopFor)
	for time.Now().Before(end) {
		next, a, err := tryRefresh(s.URL, tok.Refresh)
		if err != nil || a.Status != 200 {
			t.Fatalf("refresh %d: %d %s %v", refreshes+1, a.Status, a.Body, err)
		}
		tok = next
		if refreshes++; refreshes%1000 == 0 {
			largest = max(largest, size())
		}
	}
	largest = max(largest, size())

	conn, err := sql.Open("sqlite", "file:"+filepath.ToSlash(db)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var rows int
	if err := conn.QueryRowContext(context.Background(), "SELECT count(*) FROM refresh_tokens").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d refreshes in %v: %d refresh-token rows, database and WAL at most %.1f MiB (bound %d MiB)",
		refreshes, refreshLoopFor, rows, float64(largest)/(1<<20), dbBound>>20)
	if rows > 2*server.SpentTokensKept {
		t.Errorf("%d refresh-token rows, want at most %d", rows, 2*server.SpentTokensKept)
	}
	if largest > dbBound {
		t.Errorf("the database and its WAL reached %d bytes, over the %d bound", largest, dbBound)
	}
}
