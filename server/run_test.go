package server_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/sqlite"
)

// watchingStore is a real SQLite store that also pushes revocations, as PostgreSQL does with
// LISTEN/NOTIFY. Its watcher lingers a little after ctx ends, like a connection closing.
type watchingStore struct {
	server.Store
	started chan func(sid string)
	exited  atomic.Bool
}

func (w *watchingStore) WatchRevocations(ctx context.Context, fn func(sid string)) error {
	w.started <- fn
	<-ctx.Done()
	time.Sleep(100 * time.Millisecond)
	w.exited.Store(true)
	return ctx.Err()
}

func TestRunJoinsTheRevocationWatcher(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sq, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "authctl.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.Close() })
	st := &watchingStore{Store: sq, started: make(chan func(string), 1)}
	cfg := server.DefaultConfig()
	cfg.Argon2 = cheapArgon2
	svc, err := server.NewService(ctx, cfg, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.AddUser(ctx, st, svc.Hasher(), "alice", "user", "correct horse", time.Now()); err != nil {
		t.Fatal(err)
	}
	tok, err := svc.Login(ctx, "alice", "correct horse", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	claims, err := svc.Authenticate(ctx, tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	var notify func(string)
	select {
	case notify = <-st.started:
	case <-time.After(5 * time.Second):
		t.Fatal("Run never started the watcher")
	}

	t.Run("a pushed revocation refuses the session's access tokens at once", func(t *testing.T) {
		notify(claims.SID)
		if _, err := svc.Authenticate(ctx, tok.AccessToken); !errors.Is(err, server.ErrInvalidToken) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("Run returns only after the watcher has stopped", func(t *testing.T) {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return")
		}
		if !st.exited.Load() {
			t.Error("Run returned while the watcher goroutine was still running; the store may close under it")
		}
	})
}
