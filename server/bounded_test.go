package server_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authctl/authctl/internal/testkit"
	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/sqlite"
)

func hashOf(token string) []byte { h := sha256.Sum256([]byte(token)); return h[:] }

// countingStore counts write probes.
type countingStore struct {
	server.Store
	probes atomic.Int64
}

func (c *countingStore) Probe(ctx context.Context, now time.Time) error {
	c.probes.Add(1)
	return c.Store.Probe(ctx, now)
}

func TestReady(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "authctl.db")
	sq, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.Close() })
	st := &countingStore{Store: sq}
	var logs testkit.Buffer
	cfg := server.DefaultConfig()
	cfg.Argon2 = cheapArgon2
	svc, err := server.NewService(ctx, cfg, st, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("a store that takes writes is ready, probed once however many ask at once", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for range 20 {
			wg.Go(func() { errs <- svc.Ready(ctx) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := st.probes.Load(); n != 1 {
			t.Errorf("%d probes for 20 callers within a second, want 1", n)
		}
	})

	t.Run("a caller whose context ends does not wait for the probe", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		time.Sleep(1100 * time.Millisecond) // past the cached answer
		if err := svc.Ready(cctx); !errors.Is(err, server.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Errorf("Ready with a cancelled context: %v", err)
		}
		if err := svc.Ready(ctx); err != nil {
			t.Errorf("the probe it started answers the next caller: %v", err)
		}
	})

	t.Run("a deleted database file makes it unready, with an ERROR line naming the file", func(t *testing.T) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond)
		err := svc.Ready(ctx)
		if !errors.Is(err, server.ErrUnavailable) || !strings.Contains(err.Error(), path) {
			t.Fatalf("Ready: %v, want ErrUnavailable naming %s", err, path)
		}
		out := logs.String()
		if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "not ready") || !strings.Contains(out, "is gone") {
			t.Errorf("log:\n%s", out)
		}
		if err := svc.Ready(ctx); err == nil {
			t.Error("the next probe forgot the failure")
		}
		if n := strings.Count(logs.String(), "level=ERROR"); n != 1 {
			t.Errorf("%d ERROR lines for one lasting failure, want 1", n)
		}
	})
}

func TestPruneEndedSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, nil)
	login := func() string {
		t.Helper()
		tok, err := f.svc.Login(ctx, "alice", "correct horse", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		return tok.RefreshToken
	}
	sid := func(refresh string) string {
		t.Helper()
		s, err := f.store.SessionByToken(ctx, hashOf(refresh))
		if err != nil {
			t.Fatal(err)
		}
		return s.ID
	}
	loggedOut, live := login(), login()
	loggedOutID, liveID := sid(loggedOut), sid(live)
	if err := f.svc.Logout(ctx, loggedOut); err != nil {
		t.Fatal(err)
	}
	ttl := f.svc.Config().AccessTTL

	// While an access token of the logged-out session may be valid, its row stays: it is
	// how other replicas, and this one after a restart, refuse that token.
	f.clock.Advance(ttl)
	server.Prune(ctx, f.svc)
	if _, err := f.store.Session(ctx, loggedOutID); err != nil {
		t.Fatalf("pruned while its access tokens could be valid: %v", err)
	}
	f.clock.Advance(server.PruneMargin + time.Second)
	server.Prune(ctx, f.svc)
	if _, err := f.store.Session(ctx, loggedOutID); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("logged-out session after its last access token expired: %v, want pruned", err)
	}
	if _, err := f.store.SessionByToken(ctx, hashOf(loggedOut)); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("its refresh token: %v, want pruned", err)
	}
	if _, err := f.store.Session(ctx, liveID); err != nil {
		t.Errorf("live session: %v", err)
	}
	if _, err := f.svc.Refresh(ctx, live); err != nil {
		t.Errorf("refreshing the live session after pruning: %v", err)
	}
}
