package keystore

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// lockedErr is what go-keyring answers when the collection is locked and the unlock
// prompt cannot be shown (seen with gnome-keyring and no display).
var lockedErr = errors.New("failed to unlock correct collection '/org/freedesktop/secrets/collection/login'")

func TestKeyringWithoutABusIsNotCalled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, bus := range []string{"", "autolaunch:"} {
		t.Run("DBUS_SESSION_BUS_ADDRESS="+bus+" fails at once with no keyring call", func(t *testing.T) {
			t.Parallel()
			fb := newFake()
			fb.block = make(chan struct{}) // a call would hang the test
			t.Cleanup(func() { close(fb.block) })
			k := &keyringStore{b: fb, timeout: 100 * time.Millisecond, getenv: func(string) string { return bus }}
			for name, op := range map[string]func() error{
				"Load":   func() error { _, err := k.Load(ctx, "http://a"); return err },
				"Save":   func() error { return k.Save(ctx, session("http://a", 10)) },
				"Delete": func() error { return k.Delete(ctx, "http://a") },
			} {
				err := op()
				if !errors.Is(err, ErrNoKeyring) || errors.Is(err, ErrKeyringTimeout) || !strings.Contains(err.Error(), "--keystore file") {
					t.Errorf("%s = %v", name, err)
				}
			}
			fb.mu.Lock()
			calls := fb.calls
			fb.mu.Unlock()
			if calls != 0 {
				t.Errorf("%d calls reached go-keyring (each may autolaunch a dbus-daemon)", calls)
			}
		})
	}
}

func TestKeyringFailuresAreClassified(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		err  error
		want error
	}{
		{"a dismissed or impossible unlock prompt is locked", lockedErr, ErrKeyringLocked},
		{"no Secret Service on the bus is no keyring", errors.New("The name org.freedesktop.secrets was not provided by any .service files"), ErrNoKeyring},
		{"a bus socket that is gone is no keyring", errors.New("dial unix /run/user/1000/bus: connect: no such file or directory"), ErrNoKeyring},
		{"anything else stays as it is", errors.New("dbus: connection closed by user"), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			fb := newFake()
			fb.getErr = c.err
			k := &keyringStore{b: fb, timeout: time.Second}
			_, err := k.Load(context.Background(), "http://a")
			for _, kind := range []error{ErrNoKeyring, ErrKeyringLocked, ErrKeyringTimeout} {
				if errors.Is(err, kind) != (kind == c.want) {
					t.Errorf("Load = %v; matches %v: %v", err, kind, errors.Is(err, kind))
				}
			}
			if err == nil || errors.Is(err, ErrNotFound) {
				t.Errorf("Load = %v, want an error that is not ErrNotFound", err)
			}
		})
	}
}

// autoWith opens auto mode over fb (with a session bus) in a fresh dir shared by the
// stores it returns, and the buffer its warnings go to.
func autoWith(t *testing.T, fb *fakeBackend, dir string) (*auto, *bytes.Buffer) {
	t.Helper()
	var warn bytes.Buffer
	st, err := Open(Options{Dir: dir, Warn: &warn, Getenv: withBus})
	if err != nil {
		t.Fatal(err)
	}
	a := st.(*auto)
	a.keyring.b, a.keyring.timeout = fb, 50*time.Millisecond
	return a, &warn
}

func named(server, user string, accessExpiry time.Time) Session {
	s := session(server, 10)
	s.Username, s.AccessExpiry = user, accessExpiry.UTC()
	return s
}

func TestAutoNeverSilentlyReadsAnotherStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const server = "http://a"
	now := time.Now()

	t.Run("a locked keyring: the file's session is used with a warning that says locked", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "authctl")
		NewFile(dir).Save(ctx, named(server, "admin", now))
		fb := newFake()
		fb.getErr = lockedErr // alice may be in there; it cannot be read
		a, warn := autoWith(t, fb, dir)
		s, err := a.Load(ctx, server)
		if err != nil || s.Username != "admin" {
			t.Fatalf("Load = %v, %v", s.Username, err)
		}
		a.Load(ctx, server)
		if got := warn.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "the OS keyring is locked") || !strings.Contains(got, "using the session for http://a stored in "+filepath.Join(dir, "sessions.json")) {
			t.Errorf("warning %q", got)
		}
		if w := a.Where(server); !strings.HasPrefix(w, "file ") || !strings.Contains(w, "locked") {
			t.Errorf("Where = %q", w)
		}
	})
	t.Run("a locked keyring and nothing in the file: locked, not 'not logged in'", func(t *testing.T) {
		t.Parallel()
		fb := newFake()
		fb.getErr = lockedErr
		a, _ := autoWith(t, fb, filepath.Join(t.TempDir(), "authctl"))
		if _, err := a.Load(ctx, server); !errors.Is(err, ErrKeyringLocked) || errors.Is(err, ErrNotFound) {
			t.Errorf("Load = %v", err)
		}
	})
	t.Run("a login while the keyring is locked warns with that reason, and its refresh stays in the file", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "authctl")
		fb := newFake()
		fb.getErr = lockedErr
		a, warn := autoWith(t, fb, dir)
		if err := a.Save(ctx, named(server, "alice", now)); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(warn.String(), "the OS keyring is locked") || strings.Contains(warn.String(), "no OS keyring") {
			t.Errorf("warning %q", warn.String())
		}
	})
	t.Run("a session saved in the file does not vanish once the keyring answers", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "authctl")
		NewFile(dir).Save(ctx, named(server, "admin", now))
		fb := newFake()
		a, warn := autoWith(t, fb, dir)
		s, err := a.Load(ctx, server)
		if err != nil || s.Username != "admin" {
			t.Fatalf("Load = %v, %v", s.Username, err)
		}
		if w := a.Where(server); !strings.Contains(w, "not in the keyring") || !strings.Contains(w, "--migrate") {
			t.Errorf("Where = %q", w)
		}
		// Its refresh is saved back where it came from: no surprise move, no warning.
		if err := a.Save(ctx, named(server, "admin", now.Add(time.Minute))); err != nil {
			t.Fatal(err)
		}
		if len(fb.entries()) != 0 || warn.Len() != 0 {
			t.Errorf("keyring %v, warning %q", keys(fb.entries()), warn.String())
		}
	})
	t.Run("with a session in each store the newer one is used", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct {
			name          string
			keyringNewer  bool
			want, wantSrc string
		}{{"the file's is newer", false, "admin", "file "}, {"the keyring's is newer", true, "alice", "keyring (service authctl); an older session for it is in file "}} {
			dir := filepath.Join(t.TempDir(), "authctl")
			fb := newFake()
			older, newer := now, now.Add(time.Hour)
			kExp, fExp := older, newer
			if c.keyringNewer {
				kExp, fExp = newer, older
			}
			(&keyringStore{b: fb, timeout: time.Second}).Save(ctx, named(server, "alice", kExp))
			NewFile(dir).Save(ctx, named(server, "admin", fExp))
			a, _ := autoWith(t, fb, dir)
			s, err := a.Load(ctx, server)
			if !c.keyringNewer && !strings.Contains(a.Where(server), "newer than the session in the keyring") {
				t.Errorf("%s: Where = %q", c.name, a.Where(server))
			}
			if err != nil || s.Username != c.want || !strings.HasPrefix(a.Where(server), c.wantSrc) {
				t.Errorf("%s: Load = %q, %v; Where = %q", c.name, s.Username, err, a.Where(server))
			}
		}
	})
	t.Run("migrate moves the session from the file into the keyring", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "authctl")
		s := named(server, "admin", now)
		NewFile(dir).Save(ctx, s)
		fb := newFake()
		a, _ := autoWith(t, fb, dir)
		moved, err := a.Migrate(ctx, server)
		if err != nil || !moved {
			t.Fatalf("Migrate = %v, %v", moved, err)
		}
		if _, err := NewFile(dir).Load(ctx, server); !errors.Is(err, ErrNotFound) {
			t.Errorf("still in the file: %v", err)
		}
		b, _ := autoWith(t, fb, dir)
		if got, err := b.Load(ctx, server); err != nil || got != s || b.Where(server) != "keyring (service authctl)" {
			t.Errorf("after the move: %v, Where %q", err, b.Where(server))
		}
		if moved, err := b.Migrate(ctx, server); err != nil || moved {
			t.Errorf("second Migrate = %v, %v", moved, err)
		}
	})
	t.Run("migrate with a locked keyring says so and keeps the file", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "authctl")
		NewFile(dir).Save(ctx, named(server, "admin", now))
		fb := newFake()
		fb.getErr = lockedErr
		a, _ := autoWith(t, fb, dir)
		if _, err := a.Migrate(ctx, server); !errors.Is(err, ErrKeyringLocked) {
			t.Errorf("Migrate = %v", err)
		}
		if _, err := NewFile(dir).Load(ctx, server); err != nil {
			t.Errorf("the file lost it: %v", err)
		}
	})
}

// TestAutoWarnsOncePerSession: without a keyring, the fallback warning comes with the
// session (the login), not with each refresh: each authctl run below is a fresh store,
// as each process is.
func TestAutoWarnsOncePerSession(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const server = "http://a"
	dir := filepath.Join(t.TempDir(), "authctl")
	run := func() (*auto, *bytes.Buffer) {
		var warn bytes.Buffer
		st, err := Open(Options{Dir: dir, Warn: &warn, Getenv: noBus})
		if err != nil {
			t.Fatal(err)
		}
		return st.(*auto), &warn
	}
	now := time.Now()

	login, warn := run()
	if err := login.Save(ctx, named(server, "alice", now)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(warn.String(), "storing the session in") {
		t.Fatalf("the login did not warn: %q", warn.String())
	}
	for i := range 3 { // three refreshes, as `authctl weather` does every few minutes
		refresh, warn := run()
		s, err := refresh.Load(ctx, server)
		if err != nil {
			t.Fatal(err)
		}
		s.AccessExpiry = now.Add(time.Duration(i+1) * time.Minute)
		if err := refresh.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
		if warn.Len() != 0 {
			t.Errorf("refresh %d warned again: %q", i+1, warn.String())
		}
	}
	// A new login is a new session: it is told again where it goes.
	relogin, warn := run()
	relogin.Load(ctx, server)
	relogin.Delete(ctx, server)
	relogin.Save(ctx, named(server, "bob", now))
	if !strings.Contains(warn.String(), "storing the session in") {
		t.Errorf("a new login was not warned: %q", warn.String())
	}
}
