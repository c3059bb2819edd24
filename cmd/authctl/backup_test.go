package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// stableIssuer keeps the issuer of the restored server that of the first one, as a
// deployment's is; by default it follows the listen address, here a new port each start.
var stableIssuer = []string{"--issuer", "https://auth.example.test"}

// rotation is one refresh token a session held: obtained by the request sent at start
// and answered at end (login for the first).
type rotation struct {
	start, end time.Time
	token      string
}

// tracked is a session whose every refresh token the test keeps, with when it was issued.
type tracked struct {
	mu      sync.Mutex
	history []rotation
}

func (s *tracked) current() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.history[len(s.history)-1].token
}

func (s *tracked) add(r rotation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.history = append(s.history, r)
}

// candidates are the refresh tokens one of which the store held for s when a backup was
// taken between from and to, newest first: the last one answered before from, and every
// one asked for before to (its rotation may or may not have committed before the copy's
// snapshot). Presenting them newest first never presents one older than the store's
// current token, so no candidate trips reuse detection: a token the copy does not know
// is merely invalid.
func (s *tracked) candidates(from, to time.Time) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.history {
		switch {
		case r.end.Before(from):
			out = []string{r.token} // superseded by any later one answered before from
		case r.start.Before(to):
			out = append(out, r.token)
		}
	}
	slices.Reverse(out)
	return out
}

// TestBackupUnderRefreshLoadRestores takes `authctl backup` while sessions are being
// refreshed as fast as the server allows, restores it into a fresh server (stop,
// replace the file, start), and checks that every session that existed at the time of
// the backup still refreshes there, that tokens signed before it still verify, and that
// nothing done after it is in the restored store.
func TestBackupUnderRefreshLoadRestores(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "authctl.db")
	s := startServe(t, db, stableIssuer...)

	const idle, busy = 6, 12
	sessions := make([]*tracked, idle+busy)
	var first tokens
	for i := range sessions {
		tok := login(t, s.URL, "admin", adminPassword)
		if i == 0 {
			first = tok
		}
		sessions[i] = &tracked{history: []rotation{{end: time.Now(), token: tok.Refresh}}}
	}
	jwksBefore := call(t, "GET", s.URL+"/.well-known/jwks.json", "", "").Body

	// Load: the busy sessions are refreshed in a loop until stop.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var loadMu sync.Mutex
	var loadErr error
	rotations := 0
	for _, sess := range sessions[idle:] {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				tok, a, err := tryRefresh(s.URL, sess.current())
				switch {
				case err == nil && a.Status == 200:
					sess.add(rotation{start, time.Now(), tok.Refresh})
					loadMu.Lock()
					rotations++
					loadMu.Unlock()
				case err == nil && a.Status == 429: // a per-session refresh limit: wait
					time.Sleep(50 * time.Millisecond)
				default:
					loadMu.Lock()
					loadErr = fmt.Errorf("refresh under load: %v %d %s", err, a.Status, a.Body)
					loadMu.Unlock()
					return
				}
			}
		})
	}
	stopLoad := sync.OnceFunc(func() {
		close(stop)
		wg.Wait()
	})
	defer stopLoad()

	time.Sleep(300 * time.Millisecond)
	loadMu.Lock()
	before := rotations
	loadMu.Unlock()
	backup := filepath.Join(dir, "backup.db")
	from := time.Now()
	if out, err := exec.Command("authctl", "backup", "--db", db, backup).CombinedOutput(); err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	to := time.Now()
	time.Sleep(300 * time.Millisecond)

	// After the backup: a new session, and the end of one that existed at the backup.
	late := login(t, s.URL, "admin", adminPassword)
	if a := call(t, "POST", s.URL+"/api/auth/logout", "application/json", fmt.Sprintf(`{"refresh_token":%q}`, sessions[1].current())); a.Status != 204 {
		t.Fatalf("logout: %d %s", a.Status, a.Body)
	}
	stopLoad()
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	if before == 0 || rotations <= before {
		t.Fatalf("no load around the backup: %d rotations before it, %d in all", before, rotations)
	}
	t.Logf("%d refreshes in all, %d before the backup, which took %v", rotations, before, to.Sub(from).Round(time.Millisecond))

	// Restore as the README says: stop, remove the WAL files, replace the file, start.
	s.stop(syscall.SIGTERM)
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(db + suffix); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	if err := os.Rename(backup, db); err != nil {
		t.Fatal(err)
	}
	r := startServe(t, db, stableIssuer...)

	if a := weather(t, r.URL, first.Access); a.Status != 200 {
		t.Errorf("an access token from before the backup: %d %s", a.Status, a.Body)
	}
	if jwksAfter := call(t, "GET", r.URL+"/.well-known/jwks.json", "", "").Body; !sameJWKS(jwksBefore, jwksAfter) {
		t.Errorf("keys changed:\n%s\n%s", jwksBefore, jwksAfter)
	}
	for i, sess := range sessions {
		cands := sess.candidates(from, to)
		ok := false
		for _, rt := range cands {
			_, a := refresh(t, r.URL, rt)
			if a.Status == 200 {
				ok = true
				break
			}
			if a.Status != 400 {
				t.Errorf("session %d: %d %s", i, a.Status, a.Body)
			}
		}
		if !ok {
			t.Errorf("session %d (of %d tokens, %d candidates) does not refresh after the restore", i, len(sess.history), len(cands))
		}
	}
	if _, a := refresh(t, r.URL, late.Refresh); a.Status != 400 {
		t.Errorf("a session made after the backup refreshes in the restored store: %d %s", a.Status, a.Body)
	}
}

// sameJWKS compares the key ids of two JWKS documents.
func sameJWKS(a, b []byte) bool {
	kids := func(doc []byte) []string {
		var set struct {
			Keys []struct {
				Kid string `json:"kid"`
			} `json:"keys"`
		}
		if json.Unmarshal(doc, &set) != nil {
			return nil
		}
		var out []string
		for _, k := range set.Keys {
			out = append(out, k.Kid)
		}
		slices.Sort(out)
		return out
	}
	ka, kb := kids(a), kids(b)
	return len(ka) > 0 && slices.Equal(ka, kb)
}

// TestPostgresBackupWithPgDump runs the README's PostgreSQL procedure: `authctl backup`
// points to pg_dump; pg_dump while serving, pg_restore into an empty database, and the
// server on it has the sessions and keys of the dump.
func TestPostgresBackupWithPgDump(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"pg_dump", "pg_restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("AUTHCTL_TEST_POSTGRES_REQUIRED") == "1" {
				t.Fatalf("%s required: %v", tool, err)
			}
			t.Skipf("%s: %v", tool, err)
		}
	}
	src, dst := freshDatabase(t), freshDatabase(t)
	dir := t.TempDir()
	s := startServe(t, src, stableIssuer...)
	tok := login(t, s.URL, "admin", adminPassword)

	out, err := exec.Command("authctl", "backup", "--db", src, filepath.Join(dir, "pg.db")).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "pg_dump") {
		t.Errorf("authctl backup on PostgreSQL: %v %s", err, out)
	}

	dump := filepath.Join(dir, "authctl.dump")
	if out, err := exec.Command("pg_dump", "--format=custom", "--file="+dump, "--dbname="+src).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	late := login(t, s.URL, "admin", adminPassword)
	s.stop(syscall.SIGTERM)

	if out, err := exec.Command("pg_restore", "--no-owner", "--exit-on-error", "--dbname="+dst, dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	r := startServe(t, dst, stableIssuer...)
	if a := weather(t, r.URL, tok.Access); a.Status != 200 {
		t.Errorf("an access token from before the dump: %d %s", a.Status, a.Body)
	}
	if _, a := refresh(t, r.URL, tok.Refresh); a.Status != 200 {
		t.Errorf("a session from before the dump: %d %s", a.Status, a.Body)
	}
	if _, a := refresh(t, r.URL, late.Refresh); a.Status != 400 {
		t.Errorf("a session from after the dump: %d %s", a.Status, a.Body)
	}
}
