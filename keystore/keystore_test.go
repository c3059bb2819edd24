package keystore

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zalando/go-keyring"
)

func session(server string, tokenLen int) Session {
	return Session{
		Server: server, Username: "alice",
		AccessToken: strings.Repeat("a", tokenLen), AccessExpiry: time.Unix(1_800_000_000, 0).UTC(),
		RefreshToken: "refresh-" + server, RefreshExpiry: time.Unix(1_900_000_000, 0).UTC(),
	}
}

func TestFileStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "authctl")
	st := NewFile(dir)

	if _, err := st.Load(ctx, "http://a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty store: %v", err)
	}
	if err := st.Delete(ctx, "http://a"); err != nil {
		t.Fatalf("deleting an absent session: %v", err)
	}
	a, b := session("http://a", 100), session("http://b", 100)
	for _, s := range []Session{a, b} {
		if err := st.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.Load(ctx, "http://a")
	if err != nil || got != a {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	t.Run("the directory is 0700 and the file 0600", func(t *testing.T) {
		for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "sessions.json"): 0o600} {
			fi, err := os.Stat(path)
			if err != nil || fi.Mode().Perm() != want {
				t.Errorf("%s: %v, %v (want %v)", path, fi.Mode().Perm(), err, want)
			}
		}
	})
	t.Run("no temp files are left behind", func(t *testing.T) {
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Errorf("dir holds %d entries", len(entries))
		}
	})
	t.Run("deleting one server keeps the other", func(t *testing.T) {
		if err := st.Delete(ctx, "http://a"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Load(ctx, "http://a"); !errors.Is(err, ErrNotFound) {
			t.Errorf("a still there: %v", err)
		}
		if got, err := st.Load(ctx, "http://b"); err != nil || got != b {
			t.Errorf("b lost: %v", err)
		}
	})
	t.Run("a corrupt file is an error naming it, not an empty store", func(t *testing.T) {
		os.WriteFile(filepath.Join(dir, "sessions.json"), []byte("{not json"), 0o600)
		_, err := st.Load(ctx, "http://b")
		if err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "sessions.json") {
			t.Errorf("got %v", err)
		}
	})
}

// fakeBackend is an in-memory keyring that can block or refuse big values.
type fakeBackend struct {
	mu      sync.Mutex
	m       map[string]string
	block   chan struct{}
	maxSize int
}

func (f *fakeBackend) wait() {
	if f.block != nil {
		<-f.block
	}
}

func (f *fakeBackend) Get(s, u string) (string, error) {
	f.wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.m[s+"/"+u]
	if !ok {
		return "", keyring.ErrNotFound
	}
	return v, nil
}

func (f *fakeBackend) Set(s, u, v string) error {
	f.wait()
	if f.maxSize > 0 && len(v) > f.maxSize {
		return keyring.ErrSetDataTooBig
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m[s+"/"+u] = v
	return nil
}

func (f *fakeBackend) Delete(s, u string) error {
	f.wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.m[s+"/"+u]; !ok {
		return keyring.ErrNotFound
	}
	delete(f.m, s+"/"+u)
	return nil
}

func TestKeyringWithFakes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("a keyring that does not answer times out with advice", func(t *testing.T) {
		k := &keyringStore{b: &fakeBackend{m: map[string]string{}, block: make(chan struct{})}, timeout: 50 * time.Millisecond}
		start := time.Now()
		_, err := k.Load(ctx, "http://a")
		if !errors.Is(err, ErrKeyringTimeout) || time.Since(start) > 2*time.Second {
			t.Fatalf("got %v after %v", err, time.Since(start))
		}
		if !strings.Contains(err.Error(), "--keystore file") {
			t.Errorf("no advice in %q", err)
		}
	})
	t.Run("large sessions are split under the platform limit and reassembled", func(t *testing.T) {
		fb := &fakeBackend{m: map[string]string{}, maxSize: ChunkSize}
		k := &keyringStore{b: fb, timeout: time.Second}
		big := session("http://a", 6000)
		if err := k.Save(ctx, big); err != nil {
			t.Fatal(err)
		}
		if len(fb.m) < 4 {
			t.Fatalf("stored in %d entries", len(fb.m))
		}
		got, err := k.Load(ctx, "http://a")
		if err != nil || got != big {
			t.Fatalf("round trip: %v", err)
		}
		small := session("http://a", 10)
		if err := k.Save(ctx, small); err != nil {
			t.Fatal(err)
		}
		if len(fb.m) != 1 {
			t.Errorf("shrinking left %d entries", len(fb.m))
		}
		k.Save(ctx, big)
		if err := k.Delete(ctx, "http://a"); err != nil {
			t.Fatal(err)
		}
		if len(fb.m) != 0 {
			t.Errorf("delete left %d entries", len(fb.m))
		}
	})
	t.Run("a refused write is an error, not a silent loss", func(t *testing.T) {
		k := &keyringStore{b: &fakeBackend{m: map[string]string{}, maxSize: 10}, timeout: time.Second}
		if err := k.Save(ctx, session("http://a", 100)); !errors.Is(err, keyring.ErrSetDataTooBig) {
			t.Errorf("got %v", err)
		}
	})
}

func TestOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	noBus := func(string) string { return "" }

	t.Run("auto without a session bus warns before writing the file", func(t *testing.T) {
		dir := t.TempDir()
		var warn bytes.Buffer
		st, err := Open(Options{Mode: "auto", Dir: dir, Warn: &warn, Getenv: noBus})
		if err != nil {
			t.Fatal(err)
		}
		sw := &orderWriter{w: &warn, path: filepath.Join(dir, "sessions.json")}
		st.(*auto).warn = sw
		if err := st.Save(ctx, session("http://a", 10)); err != nil {
			t.Fatal(err)
		}
		if !sw.wrote || sw.fileExisted {
			t.Errorf("warning written=%v, file existed before it=%v", sw.wrote, sw.fileExisted)
		}
		st.Save(ctx, session("http://a", 10))
		if n := strings.Count(warn.String(), "warning"); n != 1 {
			t.Errorf("%d warnings", n)
		}
		if !strings.HasPrefix(st.Name(), "file ") {
			t.Errorf("Name() = %q", st.Name())
		}
	})
	t.Run("an unknown mode is an error", func(t *testing.T) {
		if _, err := Open(Options{Mode: "vault", Dir: t.TempDir()}); err == nil {
			t.Error("no error")
		}
	})
	t.Run("file mode never touches the keyring", func(t *testing.T) {
		st, _ := Open(Options{Mode: "file", Dir: t.TempDir(), Getenv: func(string) string { return "unix:path=/nonexistent" }})
		if err := st.Save(ctx, session("http://a", 10)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("keyring mode fails instead of falling back", func(t *testing.T) {
		st, _ := Open(Options{Mode: "keyring", Dir: t.TempDir()})
		ks := st.(*keyringStore)
		ks.b = &fakeBackend{m: map[string]string{}, block: make(chan struct{})}
		ks.timeout = 20 * time.Millisecond
		if err := st.Save(ctx, session("http://a", 10)); err == nil {
			t.Error("no error")
		}
	})
}

type orderWriter struct {
	w                  *bytes.Buffer
	path               string
	wrote, fileExisted bool
}

func (o *orderWriter) Write(p []byte) (int, error) {
	if !o.wrote {
		_, err := os.Stat(o.path)
		o.fileExisted = err == nil
	}
	o.wrote = true
	return o.w.Write(p)
}

func TestNormalizeServer(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://localhost:5000":        "http://localhost:5000",
		"HTTP://LocalHost:5000/":       "http://localhost:5000",
		"https://auth.example.com:443": "https://auth.example.com",
		"http://h:80/api/":             "http://h/api",
		"http://[::1]:5000":            "http://[::1]:5000",
	} {
		if got, err := NormalizeServer(in); err != nil || got != want {
			t.Errorf("NormalizeServer(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"ftp://h", "localhost:5000", "http://", "http://u:p@h", "http://h?x=1", "http://h#f"} {
		if _, err := NormalizeServer(bad); err == nil {
			t.Errorf("NormalizeServer(%q) accepted", bad)
		}
	}
}

func TestLastServer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if s, err := LastServer(dir); s != "" || err != nil {
		t.Fatalf("empty: %q %v", s, err)
	}
	if err := SetLastServer(dir, "http://a:1"); err != nil {
		t.Fatal(err)
	}
	if s, err := LastServer(dir); s != "http://a:1" || err != nil {
		t.Errorf("got %q %v", s, err)
	}
}

// TestRealKeyring runs against the Secret Service of the session bus (gnome-keyring under
// dbus-run-session in CI). It skips without a bus unless AUTHCTL_TEST_KEYRING=1 demands it.
func TestRealKeyring(t *testing.T) {
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		if os.Getenv("AUTHCTL_TEST_KEYRING") == "1" {
			t.Fatal("AUTHCTL_TEST_KEYRING=1 but there is no D-Bus session bus")
		}
		t.Skip("no D-Bus session bus; run under dbus-run-session with gnome-keyring (see .ci/run)")
	}
	ctx := context.Background()
	k := NewKeyring(5 * time.Second).(*keyringStore)
	server := "http://keyring-test.invalid:" + time.Now().Format("150405.000000")
	t.Cleanup(func() { k.Delete(ctx, server) })

	s := session(server, 100)
	if err := k.Save(ctx, s); err != nil {
		t.Fatalf("save to the real keyring: %v", err)
	}
	if got, err := k.Load(ctx, server); err != nil || got != s {
		t.Fatalf("round trip: %v", err)
	}
	big := session(server, 6000)
	if err := k.Save(ctx, big); err != nil {
		t.Fatal(err)
	}
	if _, err := keyring.Get(Service, partKey(server, 2)); err != nil {
		t.Errorf("part 2 not in the keyring: %v", err)
	}
	if got, err := k.Load(ctx, server); err != nil || got != big {
		t.Fatalf("chunked round trip: %v", err)
	}
	if err := k.Delete(ctx, server); err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{server, partKey(server, 1), partKey(server, 3)} {
		if _, err := keyring.Get(Service, user); !errors.Is(err, keyring.ErrNotFound) {
			t.Errorf("%s left behind: %v", user, err)
		}
	}
	if _, err := k.Load(ctx, server); !errors.Is(err, ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
}
