package keystore

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/zalando/go-keyring"
)

// fakeBackend is an in-memory keyring that can hang, refuse big values or fail reads.
type fakeBackend struct {
	mu      sync.Mutex
	m       map[string]string // user → value (one service)
	block   chan struct{}     // when set, every call waits for it
	maxSize int               // Set refuses longer values with ErrSetDataTooBig
	getErr  error             // Get fails with it
	calls   int
}

func newFake() *fakeBackend { return &fakeBackend{m: map[string]string{}} }

func (f *fakeBackend) enter() {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	if f.block != nil {
		<-f.block
	}
}

func (f *fakeBackend) Get(_, u string) (string, error) {
	f.enter()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.getErr != nil {
		return "", f.getErr
	}
	v, ok := f.m[u]
	if !ok {
		return "", keyring.ErrNotFound
	}
	return v, nil
}

func (f *fakeBackend) Set(_, u, v string) error {
	f.enter()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.maxSize > 0 && len(v) > f.maxSize {
		return keyring.ErrSetDataTooBig
	}
	f.m[u] = v
	return nil
}

func (f *fakeBackend) Delete(_, u string) error {
	f.enter()
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.m[u]; !ok {
		return keyring.ErrNotFound
	}
	delete(f.m, u)
	return nil
}

func (f *fakeBackend) entries() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := make(map[string]string, len(f.m))
	for k, v := range f.m {
		c[k] = v
	}
	return c
}

func TestKeyringTimeout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fb := newFake()
	fb.block = make(chan struct{})
	t.Cleanup(func() { close(fb.block) })
	k := &keyringStore{b: fb, timeout: 50 * time.Millisecond}

	for name, op := range map[string]func() error{
		"Load":   func() error { _, err := k.Load(ctx, "http://a"); return err },
		"Save":   func() error { return k.Save(ctx, session("http://a", 10)) },
		"Delete": func() error { return k.Delete(ctx, "http://a") },
	} {
		t.Run(name+" on a keyring that does not answer gives up with advice", func(t *testing.T) {
			start := time.Now()
			err := op()
			if took := time.Since(start); took > time.Second {
				t.Errorf("took %v with a 50ms timeout", took)
			}
			if !errors.Is(err, ErrKeyringTimeout) || errors.Is(err, ErrNotFound) {
				t.Fatalf("got %v", err)
			}
			for _, want := range []string{"did not answer", "50ms", "--keystore file"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%q does not say %q", err, want)
				}
			}
		})
	}
	t.Run("a cancelled context ends the wait at once", func(t *testing.T) {
		k := &keyringStore{b: fb, timeout: time.Hour}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := k.Load(cctx, "http://a"); !errors.Is(err, context.Canceled) {
			t.Errorf("got %v", err)
		}
	})
}

func TestKeyringChunks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const server = "http://a"

	t.Run("a large session is split under the limit, reassembled and wholly deleted", func(t *testing.T) {
		t.Parallel()
		fb := newFake()
		fb.maxSize = ChunkSize
		k := &keyringStore{b: fb, timeout: time.Second}
		big := session(server, 6000)
		if err := k.Save(ctx, big); err != nil {
			t.Fatal(err)
		}
		e := fb.entries()
		if e[server] != "authctl-chunks:4" {
			t.Fatalf("header = %q (entries %d)", e[server], len(e))
		}
		for _, user := range []string{"http://a#1", "http://a#2", "http://a#3", "http://a#4"} {
			if _, ok := e[user]; !ok {
				t.Errorf("%s missing", user)
			}
		}
		if got, err := k.Load(ctx, server); err != nil || got != big {
			t.Fatalf("round trip: %v", err)
		}
		if err := k.Delete(ctx, server); err != nil {
			t.Fatal(err)
		}
		if e := fb.entries(); len(e) != 0 {
			t.Errorf("delete left %v", keys(e))
		}
	})
	t.Run("a save that shrinks deletes the stale parts", func(t *testing.T) {
		t.Parallel()
		fb := newFake()
		k := &keyringStore{b: fb, timeout: time.Second}
		for _, step := range []struct {
			tokenLen, entries int
		}{{6000, 5}, {3000, 3}, {10, 1}, {6000, 5}} {
			s := session(server, step.tokenLen)
			if err := k.Save(ctx, s); err != nil {
				t.Fatal(err)
			}
			if e := fb.entries(); len(e) != step.entries {
				t.Errorf("after saving a %d-byte token: entries %v, want %d", step.tokenLen, keys(e), step.entries)
			}
			if got, err := k.Load(ctx, server); err != nil || got != s {
				t.Errorf("round trip of a %d-byte token: %v", step.tokenLen, err)
			}
		}
	})
	t.Run("a keyring with a smaller limit than ChunkSize gets smaller parts", func(t *testing.T) {
		t.Parallel()
		fb := newFake()
		fb.maxSize = 700
		k := &keyringStore{b: fb, timeout: time.Second}
		big := session(server, 3000)
		if err := k.Save(ctx, big); err != nil {
			t.Fatal(err)
		}
		for user, v := range fb.entries() {
			if len(v) > 700 {
				t.Errorf("%s holds %d bytes", user, len(v))
			}
		}
		if got, err := k.Load(ctx, server); err != nil || got != big {
			t.Errorf("round trip: %v", err)
		}
	})
	t.Run("a keyring that refuses even small parts fails the save with the size error", func(t *testing.T) {
		t.Parallel()
		fb := newFake()
		fb.maxSize = 10
		k := &keyringStore{b: fb, timeout: time.Second}
		if err := k.Save(ctx, session(server, 100)); !errors.Is(err, keyring.ErrSetDataTooBig) {
			t.Errorf("got %v", err)
		}
		if _, err := k.Load(ctx, server); !errors.Is(err, ErrNotFound) {
			t.Errorf("a failed first save left something: %v", err)
		}
	})
	t.Run("parts are cut between runes", func(t *testing.T) {
		t.Parallel()
		fb := newFake()
		k := &keyringStore{b: fb, timeout: time.Second}
		s := session(server, 1)
		s.Username = strings.Repeat("é€😀", 600)
		if err := k.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
		for user, v := range fb.entries() {
			if !utf8.ValidString(v) {
				t.Errorf("%s is not valid UTF-8", user)
			}
		}
		if got, err := k.Load(ctx, server); err != nil || got != s {
			t.Errorf("round trip: %v", err)
		}
	})
}

func TestKeyringFailuresAreNotMissingSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const server = "http://a"
	cases := []struct {
		name    string
		prepare func(*fakeBackend)
	}{
		{"a failing read", func(f *fakeBackend) { f.getErr = errors.New("dbus: connection closed") }},
		{"a header whose part is gone", func(f *fakeBackend) {
			f.m[server] = "authctl-chunks:2"
			f.m[server+"#1"] = `{"server":`
		}},
		{"an entry that is not JSON", func(f *fakeBackend) { f.m[server] = "garbage" }},
		{"a header with an absurd count", func(f *fakeBackend) { f.m[server] = "authctl-chunks:99999999" }},
	}
	for _, c := range cases {
		t.Run(c.name+" is an error, not ErrNotFound", func(t *testing.T) {
			t.Parallel()
			fb := newFake()
			c.prepare(fb)
			k := &keyringStore{b: fb, timeout: time.Second}
			if _, err := k.Load(ctx, server); err == nil || errors.Is(err, ErrNotFound) {
				t.Errorf("Load = %v", err)
			}
		})
	}
	t.Run("a header whose part is gone can still be deleted", func(t *testing.T) {
		t.Parallel()
		fb := newFake()
		cases[1].prepare(fb)
		k := &keyringStore{b: fb, timeout: time.Second}
		if err := k.Delete(ctx, server); err != nil {
			t.Fatal(err)
		}
		if e := fb.entries(); len(e) != 0 {
			t.Errorf("left %v", keys(e))
		}
	})
	t.Run("a server name with # is refused, so it cannot collide with a part", func(t *testing.T) {
		t.Parallel()
		k := &keyringStore{b: newFake(), timeout: time.Second}
		if err := k.Save(ctx, session("http://a#1", 10)); err == nil {
			t.Error("saved")
		}
	})
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
