package keystore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func session(server string, tokenLen int) Session {
	return Session{
		Server: server, Username: "alice",
		AccessToken: strings.Repeat("a", tokenLen), AccessExpiry: time.Unix(1_800_000_000, 0).UTC(),
		RefreshToken: "refresh-" + server, RefreshExpiry: time.Unix(1_900_000_000, 0).UTC(),
	}
}

func perm(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestFileStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("an empty store has no session and deleting an absent one is fine", func(t *testing.T) {
		t.Parallel()
		st := NewFile(filepath.Join(t.TempDir(), "authctl"))
		if _, err := st.Load(ctx, "http://a"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Load = %v, want ErrNotFound", err)
		}
		if err := st.Delete(ctx, "http://a"); err != nil {
			t.Errorf("Delete = %v", err)
		}
	})
	t.Run("sessions of several servers round-trip and delete independently", func(t *testing.T) {
		t.Parallel()
		st := NewFile(t.TempDir())
		a, b := session("http://a", 100), session("https://b/api", 100)
		for _, s := range []Session{a, b} {
			if err := st.Save(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		for _, want := range []Session{a, b} {
			if got, err := st.Load(ctx, want.Server); err != nil || got != want {
				t.Errorf("Load(%s) = %+v, %v", want.Server, got, err)
			}
		}
		if err := st.Delete(ctx, a.Server); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Load(ctx, a.Server); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleted session: %v", err)
		}
		if got, err := st.Load(ctx, b.Server); err != nil || got != b {
			t.Errorf("the other server's session was lost: %v", err)
		}
	})
	t.Run("the directory is 0700 and the file 0600, even after someone loosened them", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "authctl")
		st := NewFile(dir)
		if err := st.Save(ctx, session("http://a", 10)); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, "sessions.json")
		if perm(t, dir) != 0o700 || perm(t, file) != 0o600 {
			t.Fatalf("dir %v, file %v", perm(t, dir), perm(t, file))
		}
		os.Chmod(dir, 0o755)
		os.Chmod(file, 0o644)
		if err := st.Save(ctx, session("http://b", 10)); err != nil {
			t.Fatal(err)
		}
		if perm(t, dir) != 0o700 || perm(t, file) != 0o600 {
			t.Errorf("after a write: dir %v, file %v", perm(t, dir), perm(t, file))
		}
	})
	t.Run("writes leave no temp files behind", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		st := NewFile(dir)
		for i := range 3 {
			st.Save(ctx, session(fmt.Sprintf("http://h%d", i), 10))
		}
		st.Delete(ctx, "http://h0")
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 || entries[0].Name() != "sessions.json" {
			t.Errorf("dir holds %v", entries)
		}
	})
	t.Run("a corrupt file is an error naming it, and is not overwritten", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		st := NewFile(dir)
		file := filepath.Join(dir, "sessions.json")
		os.WriteFile(file, []byte("{not json"), 0o600)
		for name, err := range map[string]error{
			"Load":   func() error { _, err := st.Load(ctx, "http://a"); return err }(),
			"Save":   st.Save(ctx, session("http://a", 10)),
			"Delete": st.Delete(ctx, "http://a"),
		} {
			if err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), file) {
				t.Errorf("%s = %v", name, err)
			}
		}
		if data, _ := os.ReadFile(file); string(data) != "{not json" {
			t.Errorf("the corrupt file was replaced by %q", data)
		}
	})
	t.Run("concurrent writers in one process lose nothing", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		// Two stores on one dir, as two parts of a program might open.
		stores := []Store{NewFile(dir), NewFile(dir)}
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				if err := stores[i%2].Save(ctx, session(fmt.Sprintf("http://h%d", i), 10)); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		for i := range 16 {
			if _, err := stores[0].Load(ctx, fmt.Sprintf("http://h%d", i)); err != nil {
				t.Errorf("h%d: %v", i, err)
			}
		}
	})
	t.Run("Name says where the file is", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		if got, want := NewFile(dir).Name(), "file "+filepath.Join(dir, "sessions.json"); got != want {
			t.Errorf("Name() = %q, want %q", got, want)
		}
	})
}

func TestMemory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := NewMemory()
	s := session("http://a", 10)
	if err := st.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Load(ctx, s.Server); err != nil || got != s {
		t.Errorf("round trip: %v", err)
	}
	st.Delete(ctx, s.Server)
	if _, err := st.Load(ctx, s.Server); !errors.Is(err, ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
}
