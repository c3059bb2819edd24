package sqlstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/authctl/authctl/server"
)

func TestRebind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT a FROM t WHERE b = ? AND c = ?", "SELECT a FROM t WHERE b = $1 AND c = $2"},
		{"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"},
		{"SELECT '?', \"?\" FROM t WHERE x = ?", "SELECT '?', \"?\" FROM t WHERE x = $1"},
		{"SELECT 'it''s?' WHERE y = ?", "SELECT 'it''s?' WHERE y = $1"},
	} {
		if got := rebind(tc.in); got != tc.want {
			t.Errorf("rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	b := &binder{numbered: false}
	if got := b.bind("a = ?"); got != "a = ?" {
		t.Errorf("a ? dialect rewrote %q", got)
	}
}

func TestMigrations(t *testing.T) {
	t.Parallel()
	// At least the versions released before the SQL core: databases written by them open.
	for dialect, released := range map[string]int{"sqlite": 2, "postgres": 3} {
		m, err := Migrations(dialect)
		if err != nil || len(m) < released {
			t.Errorf("%s: %d migrations %v, want at least %d", dialect, len(m), err, released)
		}
		for i, sql := range m {
			if strings.TrimSpace(sql) == "" {
				t.Errorf("%s migration %d is empty", dialect, i+1)
			}
		}
	}
	if m, _ := Migrations("postgres"); len(m) >= 3 && !strings.Contains(m[2], "DROP FUNCTION IF EXISTS authctl_rotate") {
		t.Error("PostgreSQL's third migration does not drop the PL/pgSQL rotation")
	}
	if _, err := Migrations("oracle"); err == nil {
		t.Error("an unknown dialect has migrations")
	}
}

// TestMigrationsAreUnchanged pins the text of every released migration as the database
// runs it: a database records only how many it has had, so a changed one would leave
// databases migrated before and after the change with different schemas.
func TestMigrationsAreUnchanged(t *testing.T) {
	t.Parallel()
	released := map[string][]string{ // SHA-256 of each migration as run, in order
		"sqlite": {
			"282ce053f656be5c845f5a0cf70c6a40eb725ee3c22490a4f13670ed29b2f3fd",
			"062b6182d1d5bb1922982517fd0527a1ff505aec7d2f5aaea434dcec531cee18",
			"4647a41cd95d90c8eabe261b4def955ba502e103265b239b26e0144725a9e524",
			"b68da3503ffb1691b831fa95c26f51aad74b2d0aa594d92454e72b0a0fe8f921",
		},
		"postgres": {
			"9df1a3b2e39a3ab9ef10b98a2fb26b4927d34e7decab54556e9694f73475511e",
			"5d6bfdda1b6b23c2cd01034e40418b23c8b85d2326f3d190e195e5c84364bd79",
			"c6ab92682b356d21b9a29adcf046589889442f6b25504f664ff863af2e126834",
			"40f3d09a3d1a08c763f45792a93cf8b3d5b09ef5cab96f7881a3d6741d0facde",
			"0ae7fcc6b678fbc49b6fe608263c024ea23d7b94933284f30e57aa0e02ab3bff",
		},
	}
	for dialect, sums := range released {
		m, err := Migrations(dialect)
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range sums {
			if i >= len(m) {
				t.Errorf("%s: migration %d is gone", dialect, i+1)
				continue
			}
			if got := fmt.Sprintf("%x", sha256.Sum256([]byte(m[i]))); got != want {
				t.Errorf("%s migration %d (%s) changed after its release: sha256 %s, want %s\n%s",
					dialect, i+1, migrationOrder[dialect][i], got, want, m[i])
			}
		}
	}

	// Every embedded file is some dialect's migration, and every dialect has its words.
	listed := map[string]bool{}
	for dialect, names := range migrationOrder {
		if _, ok := dialectWords[dialect]; !ok {
			t.Errorf("dialect %s has no schemaWords", dialect)
		}
		for _, name := range names {
			listed[name] = true
		}
	}
	err := fs.WalkDir(migrationFiles, "migrations", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !listed[strings.TrimPrefix(p, "migrations/")] {
			t.Errorf("%s is in no dialect's migrationOrder", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// busyDB is a database whose every transaction fails as contention.
type busyDB struct {
	DB
	begins  int
	onBegin func(n int)
}

var errBusy = errors.New("database is locked")

func (d *busyDB) Begin(context.Context) (Tx, error) {
	d.begins++
	if d.onBegin != nil {
		d.onBegin(d.begins)
	}
	return nil, errBusy
}

func TestRetries(t *testing.T) {
	t.Parallel()
	retryable := Dialect{Retryable: func(err error) bool { return errors.Is(err, errBusy) }}

	t.Run("contention is retried a bounded number of times", func(t *testing.T) {
		t.Parallel()
		db := &busyDB{}
		s := &Store{db: db, d: retryable, b: &binder{}}
		err := s.tx(context.Background(), func(txq) error { return nil })
		if !errors.Is(err, errBusy) || db.begins != maxAttempts {
			t.Errorf("%d attempts, %v; want %d attempts and the contention error", db.begins, err, maxAttempts)
		}
	})

	t.Run("a cancelled context stops the retries at once", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		db := &busyDB{onBegin: func(n int) {
			if n == 3 {
				cancel()
			}
		}}
		s := &Store{db: db, d: retryable, b: &binder{}}
		start := time.Now()
		err := s.tx(ctx, func(txq) error { return nil })
		if !errors.Is(err, context.Canceled) || !errors.Is(err, errBusy) {
			t.Errorf("error %v, want the cancellation and the contention", err)
		}
		if db.begins != 3 {
			t.Errorf("%d attempts; want none after the context was cancelled during the third", db.begins)
		}
		if d := time.Since(start); d > time.Duration(maxAttempts*maxAttempts)*retryStep/2 {
			t.Errorf("took %v", d)
		}
	})

	t.Run("the call deadline ends the retries, as the store being unavailable", func(t *testing.T) {
		t.Parallel()
		db := &busyDB{}
		s := &Store{db: db, d: retryable, b: &binder{}, opts: Options{CallTimeout: 20 * time.Millisecond}}
		start := time.Now()
		err := s.tx(context.Background(), func(txq) error { return nil })
		if !errors.Is(err, server.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, errBusy) {
			t.Errorf("error %v, want ErrUnavailable with the deadline and the contention", err)
		}
		if d := time.Since(start); d > time.Second || db.begins >= maxAttempts {
			t.Errorf("%d attempts in %v; want the deadline to cut them short", db.begins, d)
		}
	})

	t.Run("a write guard that fails stops the write before it begins", func(t *testing.T) {
		t.Parallel()
		db := &busyDB{}
		errGone := errors.New("file gone")
		s := &Store{db: db, d: retryable, b: &binder{}, opts: Options{WriteGuard: func() error { return errGone }}}
		if err := s.tx(context.Background(), func(txq) error { return nil }); !errors.Is(err, errGone) || db.begins != 0 {
			t.Errorf("%d attempts, %v; want none and the guard's error", db.begins, err)
		}
	})

	t.Run("an answer that arrives as the deadline passes stays an answer", func(t *testing.T) {
		t.Parallel()
		s := &Store{opts: Options{CallTimeout: time.Millisecond}}
		ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
		defer cancel()
		<-ctx.Done()
		if err := s.late(ctx, server.ErrReuseDetected); errors.Is(err, server.ErrUnavailable) {
			t.Errorf("reuse became %v", err)
		}
		if err := s.late(ctx, errBusy); !errors.Is(err, server.ErrUnavailable) {
			t.Errorf("a failure after the deadline is %v, want ErrUnavailable", err)
		}
		cctx, ccancel := context.WithCancel(context.Background())
		ccancel()
		if err := s.late(cctx, context.Canceled); errors.Is(err, server.ErrUnavailable) {
			t.Errorf("a caller that went away is %v, not the database's fault", err)
		}
	})

	t.Run("other failures are not retried", func(t *testing.T) {
		t.Parallel()
		db := &busyDB{}
		s := &Store{db: db, d: Dialect{Retryable: func(error) bool { return false }}, b: &binder{}}
		if err := s.tx(context.Background(), func(txq) error { return nil }); !errors.Is(err, errBusy) || db.begins != 1 {
			t.Errorf("%d attempts, %v; want 1", db.begins, err)
		}
	})
}

// TestRotateInOneSQL checks the rendering of server.RotationRules: every fact the rules ask
// about has its SQL, and the statement's CASE names the outcomes in the rules' order, after
// the stale-read guard. What the statement decides is checked against DecideRotation by the
// contract suite on PostgreSQL.
func TestRotateInOneSQL(t *testing.T) {
	t.Parallel()
	rules := server.RotationRules()
	for _, r := range rules {
		for _, test := range r.If {
			if _, ok := factSQL[test.Fact]; !ok {
				t.Errorf("fact %d has no SQL", test.Fact)
			}
		}
	}
	q := rotateInOneSQL(Dialect{Notify: func(id string) string { return "notify(" + id + ")" }, LockRotation: " FOR UPDATE"})
	want := []string{"WHERE t.hash = $1 FOR UPDATE", fmt.Sprintf("THEN %d -- staleRead", staleRead)}
	for _, r := range rules {
		want = append(want, fmt.Sprintf("THEN %d -- %v", r.Outcome, r.Outcome))
	}
	want = append(want, fmt.Sprintf("ELSE %d -- %v", server.RotationReuse, server.RotationReuse), "RETURNING notify(sessions.id)")
	at := 0
	for _, w := range want {
		i := strings.Index(q[at:], w)
		if i < 0 {
			t.Fatalf("%q missing, or out of order, in:\n%s", w, q)
		}
		at += i + len(w)
	}
}
