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
)

func noBus(string) string { return "" }

func withBus(k string) string {
	if k == "DBUS_SESSION_BUS_ADDRESS" {
		return "unix:path=/nonexistent/bus"
	}
	return ""
}

// orderWriter records whether the session file existed when the warning was written.
type orderWriter struct {
	mu          sync.Mutex
	buf         bytes.Buffer
	file        string
	fileExisted bool
	writes      int
}

func (o *orderWriter) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.writes == 0 {
		_, err := os.Stat(o.file)
		o.fileExisted = err == nil
	}
	o.writes++
	return o.buf.Write(p)
}

// openAuto opens auto mode with the keyring replaced by fb (nil: no session bus).
func openAuto(t *testing.T, fb *fakeBackend) (*auto, *orderWriter, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "authctl")
	w := &orderWriter{file: filepath.Join(dir, "sessions.json")}
	getenv := noBus
	if fb != nil {
		getenv = withBus
	}
	st, err := Open(Options{Mode: "auto", Dir: dir, Warn: w, Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	a := st.(*auto)
	if fb != nil {
		a.keyring.b, a.keyring.timeout = fb, 50*time.Millisecond
	}
	return a, w, dir
}

func TestAuto(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("without a session bus it warns once, before the file exists", func(t *testing.T) {
		t.Parallel()
		a, w, dir := openAuto(t, nil)
		for range 2 {
			if err := a.Save(ctx, session("http://a", 10)); err != nil {
				t.Fatal(err)
			}
		}
		if w.writes != 1 || w.fileExisted {
			t.Fatalf("%d warnings; file existed before the first: %v", w.writes, w.fileExisted)
		}
		path := filepath.Join(dir, "sessions.json")
		want := "authctl: warning: no OS keyring (no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is unset); storing the session in " + path + " (0600)\n"
		if w.buf.String() != want {
			t.Errorf("warning %q\nwant    %q", w.buf.String(), want)
		}
		if got := a.Name(); got != "file "+path {
			t.Errorf("Name() = %q", got)
		}
		if _, err := a.Load(ctx, "http://a"); err != nil {
			t.Errorf("Load: %v", err)
		}
	})
	t.Run("a keyring that does not answer falls back to the file with the reason", func(t *testing.T) {
		t.Parallel()
		fb := newFake()
		fb.block = make(chan struct{})
		t.Cleanup(func() { close(fb.block) })
		a, w, _ := openAuto(t, fb)
		if err := a.Save(ctx, session("http://a", 10)); err != nil {
			t.Fatal(err)
		}
		if w.fileExisted || !strings.Contains(w.buf.String(), "did not answer within 50ms") {
			t.Errorf("warning %q, file existed before it: %v", w.buf.String(), w.fileExisted)
		}
		if !strings.HasPrefix(a.Name(), "file ") {
			t.Errorf("Name() = %q", a.Name())
		}
	})
	t.Run("a keyring that answers is used, with no warning and no file", func(t *testing.T) {
		t.Parallel()
		fb := newFake()
		a, w, dir := openAuto(t, fb)
		s := session("http://a", 10)
		if err := a.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
		if got, err := a.Load(ctx, s.Server); err != nil || got != s {
			t.Errorf("Load: %v", err)
		}
		if w.writes != 0 {
			t.Errorf("warned %q", w.buf.String())
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the config dir was created: %v", err)
		}
		if _, ok := fb.entries()["http://a"]; !ok || a.Name() != "keyring (service authctl)" {
			t.Errorf("not in the keyring; Name() = %q", a.Name())
		}
	})
	t.Run("a cancelled first call does not decide for the file", func(t *testing.T) {
		t.Parallel()
		fb := newFake()
		fb.block = make(chan struct{})
		a, _, _ := openAuto(t, fb)
		a.keyring.timeout = time.Hour
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := a.Load(cctx, "http://a"); !errors.Is(err, context.Canceled) {
			t.Fatalf("Load = %v", err)
		}
		close(fb.block)
		if _, err := a.Load(ctx, "http://a"); !errors.Is(err, ErrNotFound) || a.Name() != "keyring (service authctl)" {
			t.Errorf("Load = %v, Name() = %q", err, a.Name())
		}
	})
	t.Run("logout with the keyring also clears a copy left in the file", func(t *testing.T) {
		t.Parallel()
		fb := newFake()
		a, _, dir := openAuto(t, fb)
		s := session("http://a", 10)
		NewFile(dir).Save(ctx, s)
		a.Save(ctx, s)
		if err := a.Delete(ctx, s.Server); err != nil {
			t.Fatal(err)
		}
		if _, err := NewFile(dir).Load(ctx, s.Server); !errors.Is(err, ErrNotFound) {
			t.Errorf("file copy: %v", err)
		}
		if len(fb.entries()) != 0 {
			t.Errorf("keyring copy left")
		}
	})
}

func TestOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("an unknown mode is an error", func(t *testing.T) {
		t.Parallel()
		if _, err := Open(Options{Mode: "vault", Dir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "vault") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("keyring mode fails instead of falling back", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		var warn bytes.Buffer
		st, err := Open(Options{Mode: "keyring", Dir: dir, Warn: &warn, Getenv: withBus})
		if err != nil {
			t.Fatal(err)
		}
		fb := newFake()
		fb.block = make(chan struct{})
		t.Cleanup(func() { close(fb.block) })
		st.(*keyringStore).b, st.(*keyringStore).timeout = fb, 20*time.Millisecond
		if err := st.Save(ctx, session("http://a", 10)); !errors.Is(err, ErrKeyringTimeout) {
			t.Errorf("Save = %v", err)
		}
		if _, err := st.Load(ctx, "http://a"); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("Load = %v", err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 || warn.Len() != 0 {
			t.Errorf("fell back: %v, %q", entries, warn.String())
		}
	})
	t.Run("file mode never touches the keyring, even with a session bus", func(t *testing.T) {
		t.Parallel()
		st, err := Open(Options{Mode: "file", Dir: t.TempDir(), Getenv: withBus})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := st.(*fileStore); !ok {
			t.Fatalf("got %T", st)
		}
		if err := st.Save(ctx, session("http://a", 10)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("an interactive terminal gets the longer keyring timeout", func(t *testing.T) {
		t.Parallel()
		for interactive, want := range map[bool]time.Duration{false: ScriptTimeout, true: InteractiveTimeout} {
			st, _ := Open(Options{Mode: "keyring", Dir: t.TempDir(), Interactive: interactive})
			if got := st.(*keyringStore).timeout; got != want {
				t.Errorf("interactive=%v: %v, want %v", interactive, got, want)
			}
			st, _ = Open(Options{Dir: t.TempDir(), Interactive: interactive, Getenv: withBus})
			if got := st.(*auto).keyring.timeout; got != want {
				t.Errorf("auto, interactive=%v: %v, want %v", interactive, got, want)
			}
		}
	})
}

// Not parallel: it sets the environment.
func TestOpenDefaultDir(t *testing.T) {
	home := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", home)
	t.Setenv("HOME", home)
	want, err := DefaultDir()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(want) != "authctl" {
		t.Errorf("DefaultDir() = %q", want)
	}
	st, err := Open(Options{Mode: "file"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Name() != "file "+filepath.Join(want, "sessions.json") {
		t.Errorf("Name() = %q, want under %q", st.Name(), want)
	}
}
