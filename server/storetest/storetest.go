// Package storetest is the contract every server.Store implementation must pass: the
// embedded and the distributed store run this same suite, so they cannot drift apart. It
// tests only what the doc comments of server.Store promise.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/authctl/authctl/server"
)

// base is the suite's clock. It carries milliseconds (the precision stores promise) but
// nothing finer, so that a store that drops or rounds them is caught by time.Equal.
var base = time.Date(2026, 11, 28, 12, 0, 0, 345_000_000, time.UTC)

// grace is the --reuse-grace every rotation in the suite passes.
const grace = 10 * time.Second

// tok is the hash of the i-th refresh token of session sid.
func tok(sid string, i int) []byte {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/%d", sid, i))
	return sum[:]
}

// fixture wraps one fresh store with the steps most tests begin with.
type fixture struct {
	t   *testing.T
	ctx context.Context
	st  server.Store
}

func newFixture(t *testing.T, newStore func(t *testing.T) server.Store) fixture {
	t.Helper()
	t.Parallel()
	return fixture{t: t, ctx: context.Background(), st: newStore(t)}
}

func (f fixture) user(name string) server.User {
	f.t.Helper()
	u, err := f.st.CreateUser(f.ctx, name, "user", "hash-"+name, base)
	if err != nil {
		f.t.Fatalf("create user %s: %v", name, err)
	}
	return u
}

// session stores a family for u whose first token is tok(id, 0).
func (f fixture) session(u server.User, id string, ttl time.Duration) server.Session {
	f.t.Helper()
	s := server.Session{ID: id, UserID: u.ID, CreatedAt: base, ExpiresAt: base.Add(ttl)}
	if err := f.st.CreateSession(f.ctx, s, server.RefreshToken{Hash: tok(id, 0), SessionID: id, IssuedAt: base}); err != nil {
		f.t.Fatalf("create session %s: %v", id, err)
	}
	return s
}

// rotate presents tok(sid, i) with tok(sid, i+1) as its successor.
func (f fixture) rotate(sid string, i int, at time.Time) (server.RotateResult, error) {
	return f.st.Rotate(f.ctx, server.RotateRequest{Presented: tok(sid, i), Next: tok(sid, i+1), Now: at, Grace: grace})
}

// mustRotate is rotate for the steps that set a test up.
func (f fixture) mustRotate(sid string, i int, at time.Time) {
	f.t.Helper()
	if res, err := f.rotate(sid, i, at); err != nil || res.Replayed {
		f.t.Fatalf("rotate %s/%d: replayed=%v %v", sid, i, res.Replayed, err)
	}
}

func (f fixture) mustSession(id string) server.Session {
	f.t.Helper()
	s, err := f.st.Session(f.ctx, id)
	if err != nil {
		f.t.Fatalf("session %s: %v", id, err)
	}
	return s
}

func sameUser(a, b server.User) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Role == b.Role && a.PasswordHash == b.PasswordHash &&
		a.CreatedAt.Equal(b.CreatedAt)
}

func sameSession(a, b server.Session) bool {
	return a.ID == b.ID && a.UserID == b.UserID && a.CreatedAt.Equal(b.CreatedAt) && a.ExpiresAt.Equal(b.ExpiresAt) &&
		a.RevokedAt.Equal(b.RevokedAt) && a.RevokeReason == b.RevokeReason
}

func sameKey(a, b server.SigningKey) bool {
	return a.KID == b.KID && a.Alg == b.Alg && bytes.Equal(a.Private, b.Private) && a.CreatedAt.Equal(b.CreatedAt) &&
		a.Active == b.Active && a.RetireAt.Equal(b.RetireAt)
}

func revoked(s server.Session, at time.Time, reason string) server.Session {
	s.RevokedAt, s.RevokeReason = at, reason
	return s
}

// Run runs the contract; every subtest gets its own fresh, empty store from newStore, and
// the subtests run in parallel.
func Run(t *testing.T, newStore func(t *testing.T) server.Store) {
	for _, group := range []struct {
		name string
		run  func(*testing.T, func(*testing.T) server.Store)
	}{
		{"users", runUsers},
		{"sessions", runSessions},
		{"rotation", runRotation},
		{"secrets", runSecrets},
		{"signing keys", runSigningKeys},
		{"session list", runSessionList}, // sessions.go
		{"audit", runAudit},              // sessions.go
		{"bounded storage", runBounded},  // bounded.go
		{"probe and settings", runProbe}, // bounded.go
	} {
		t.Run(group.name, func(t *testing.T) {
			t.Parallel()
			group.run(t, newStore)
		})
	}
}

func runUsers(t *testing.T, newStore func(t *testing.T) server.Store) {
	t.Run("a created user reads back by name and by id, in UTC", func(t *testing.T) {
		f := newFixture(t, newStore)
		// A caller's local zone must not leak into what the store returns.
		at := base.In(time.FixedZone("UTC+5", 5*3600))
		u, err := f.st.CreateUser(f.ctx, "alice", "ops", "hash-a", at)
		if err != nil {
			t.Fatal(err)
		}
		want := server.User{ID: u.ID, Name: "alice", Role: "ops", PasswordHash: "hash-a", CreatedAt: base}
		if u.ID == 0 || !sameUser(u, want) {
			t.Errorf("CreateUser returned %+v, want %+v with a non-zero id", u, want)
		}
		for name, get := range map[string]func() (server.User, error){
			"UserByName": func() (server.User, error) { return f.st.UserByName(f.ctx, "alice") },
			"UserByID":   func() (server.User, error) { return f.st.UserByID(f.ctx, u.ID) },
		} {
			got, err := get()
			if err != nil || !sameUser(got, want) || got.CreatedAt.Location() != time.UTC {
				t.Errorf("%s: %+v %v, want %+v in UTC", name, got, err, want)
			}
		}
	})

	t.Run("a taken name is ErrUserExists and leaves the first user as it was", func(t *testing.T) {
		f := newFixture(t, newStore)
		first := f.user("alice")
		if _, err := f.st.CreateUser(f.ctx, "alice", "admin", "other", base.Add(time.Hour)); !errors.Is(err, server.ErrUserExists) {
			t.Errorf("second CreateUser: %v, want ErrUserExists", err)
		}
		if got, err := f.st.UserByName(f.ctx, "alice"); err != nil || !sameUser(got, first) {
			t.Errorf("after the failed create: %+v %v, want %+v", got, err, first)
		}
		if n, err := f.st.CountUsers(f.ctx); err != nil || n != 1 {
			t.Errorf("CountUsers %d %v, want 1", n, err)
		}
	})

	t.Run("unknown users are ErrNotFound", func(t *testing.T) {
		f := newFixture(t, newStore)
		known := f.user("alice")
		for _, tc := range []struct {
			name string
			call func() error
		}{
			{"UserByName", func() error { _, err := f.st.UserByName(f.ctx, "carol"); return err }},
			{"UserByID", func() error { _, err := f.st.UserByID(f.ctx, known.ID+1000); return err }},
			{"SetPassword", func() error { _, err := f.st.SetPassword(f.ctx, "carol", "h", base); return err }},
			{"DeleteUser", func() error { _, err := f.st.DeleteUser(f.ctx, "carol", base); return err }},
		} {
			if err := tc.call(); !errors.Is(err, server.ErrNotFound) {
				t.Errorf("%s of an unknown user: %v, want ErrNotFound", tc.name, err)
			}
		}
	})

	t.Run("users are listed by name and counted", func(t *testing.T) {
		f := newFixture(t, newStore)
		if users, err := f.st.ListUsers(f.ctx); err != nil || len(users) != 0 {
			t.Errorf("empty store lists %+v %v", users, err)
		}
		if n, err := f.st.CountUsers(f.ctx); err != nil || n != 0 {
			t.Errorf("empty store counts %d %v", n, err)
		}
		for _, name := range []string{"carol", "alice", "bob"} {
			f.user(name)
		}
		users, err := f.st.ListUsers(f.ctx)
		var names []string
		for _, u := range users {
			names = append(names, u.Name)
		}
		if err != nil || !slices.Equal(names, []string{"alice", "bob", "carol"}) {
			t.Errorf("ListUsers: %v %v, want alice bob carol", names, err)
		}
		if n, err := f.st.CountUsers(f.ctx); err != nil || n != 3 {
			t.Errorf("CountUsers %d %v, want 3", n, err)
		}
	})

	t.Run("a password change revokes the user's live sessions and no others", func(t *testing.T) {
		f := newFixture(t, newStore)
		alice, bob := f.user("alice"), f.user("bob")
		live, out, other := f.session(alice, "a-live", time.Hour), f.session(alice, "a-out", time.Hour), f.session(bob, "b", time.Hour)
		loggedOut := base.Add(time.Second)
		if _, err := f.st.RevokeSession(f.ctx, out.ID, server.RevokeLogout, loggedOut); err != nil {
			t.Fatal(err)
		}
		at := base.Add(time.Minute)
		u, err := f.st.SetPassword(f.ctx, "alice", "hash-new", at)
		if err != nil || u.ID != alice.ID || u.PasswordHash != "hash-new" {
			t.Fatalf("SetPassword: %+v %v", u, err)
		}
		if got, _ := f.st.UserByName(f.ctx, "alice"); got.PasswordHash != "hash-new" {
			t.Errorf("stored hash %q, want hash-new", got.PasswordHash)
		}
		for _, want := range []server.Session{
			revoked(live, at, server.RevokePasswordChanged),
			revoked(out, loggedOut, server.RevokeLogout), // an earlier revocation keeps its time and reason
			other,
		} {
			if got := f.mustSession(want.ID); !sameSession(got, want) {
				t.Errorf("session %s: %+v, want %+v", want.ID, got, want)
			}
		}
		if _, err := f.rotate(live.ID, 0, at); !errors.Is(err, server.ErrSessionRevoked) {
			t.Errorf("rotation after the password change: %v, want ErrSessionRevoked", err)
		}
	})

	t.Run("deleting a user revokes its sessions and keeps their rows", func(t *testing.T) {
		f := newFixture(t, newStore)
		alice := f.user("alice")
		s := f.session(alice, "a", time.Hour)
		at := base.Add(time.Minute)
		u, err := f.st.DeleteUser(f.ctx, "alice", at)
		if err != nil || !sameUser(u, alice) {
			t.Fatalf("DeleteUser: %+v %v, want %+v", u, err, alice)
		}
		if _, err := f.st.UserByID(f.ctx, alice.ID); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("deleted user by id: %v, want ErrNotFound", err)
		}
		if _, err := f.st.UserByName(f.ctx, "alice"); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("deleted user by name: %v, want ErrNotFound", err)
		}
		if got, want := f.mustSession(s.ID), revoked(s, at, server.RevokeUserDeleted); !sameSession(got, want) {
			t.Errorf("session: %+v, want %+v", got, want)
		}
		revs, err := f.st.RevokedSince(f.ctx, at)
		if err != nil || len(revs) != 1 || revs[0].SessionID != s.ID || !revs[0].RevokedAt.Equal(at) {
			t.Errorf("RevokedSince: %+v %v, want %s at %v", revs, err, s.ID, at)
		}
		if _, err := f.rotate(s.ID, 0, at); !errors.Is(err, server.ErrSessionRevoked) {
			t.Errorf("rotation after deletion: %v, want ErrSessionRevoked", err)
		}
	})
}

func runSessions(t *testing.T, newStore func(t *testing.T) server.Store) {
	t.Run("a created session reads back by id and by any of its tokens", func(t *testing.T) {
		f := newFixture(t, newStore)
		s := f.session(f.user("alice"), "s", time.Hour)
		if got := f.mustSession(s.ID); !sameSession(got, s) || got.Revoked() || got.ExpiresAt.Location() != time.UTC {
			t.Errorf("Session: %+v, want %+v in UTC", got, s)
		}
		f.mustRotate(s.ID, 0, base.Add(time.Second))
		for i, what := range []string{"a used token", "its unused successor"} {
			if got, err := f.st.SessionByToken(f.ctx, tok(s.ID, i)); err != nil || !sameSession(got, s) {
				t.Errorf("SessionByToken of %s: %+v %v", what, got, err)
			}
		}
	})

	t.Run("unknown sessions and tokens are ErrNotFound", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.session(f.user("alice"), "s", time.Hour)
		for _, tc := range []struct {
			name string
			call func() error
		}{
			{"Session", func() error { _, err := f.st.Session(f.ctx, "nope"); return err }},
			{"SessionByToken", func() error { _, err := f.st.SessionByToken(f.ctx, tok("nope", 0)); return err }},
			{"RevokeSession", func() error { _, err := f.st.RevokeSession(f.ctx, "nope", server.RevokeLogout, base); return err }},
			{"Rotate", func() error { _, err := f.rotate("nope", 0, base); return err }},
		} {
			if err := tc.call(); !errors.Is(err, server.ErrNotFound) {
				t.Errorf("%s: %v, want ErrNotFound", tc.name, err)
			}
		}
	})

	t.Run("revoking twice keeps the first time and reason", func(t *testing.T) {
		f := newFixture(t, newStore)
		s := f.session(f.user("alice"), "s", time.Hour)
		first := revoked(s, base.Add(time.Minute), server.RevokeLogout)
		if got, err := f.st.RevokeSession(f.ctx, s.ID, server.RevokeLogout, first.RevokedAt); err != nil || !sameSession(got, first) {
			t.Fatalf("first RevokeSession: %+v %v, want %+v", got, err, first)
		}
		if got, err := f.st.RevokeSession(f.ctx, s.ID, server.RevokeReuse, base.Add(2*time.Minute)); err != nil || !sameSession(got, first) {
			t.Errorf("second RevokeSession: %+v %v, want %+v", got, err, first)
		}
		if got := f.mustSession(s.ID); !sameSession(got, first) {
			t.Errorf("stored: %+v, want %+v", got, first)
		}
	})

	t.Run("RevokedSince lists revocations at or after the time", func(t *testing.T) {
		f := newFixture(t, newStore)
		u := f.user("alice")
		s1, s2 := f.session(u, "s1", time.Hour), f.session(u, "s2", time.Hour)
		f.session(u, "live", time.Hour)
		t1, t2 := base.Add(time.Minute), base.Add(2*time.Minute)
		f.st.RevokeSession(f.ctx, s1.ID, server.RevokeLogout, t1)
		f.st.RevokeSession(f.ctx, s2.ID, server.RevokeLogout, t2)
		for _, tc := range []struct {
			since time.Time
			want  map[string]time.Time
		}{
			{base, map[string]time.Time{s1.ID: t1, s2.ID: t2}},
			{t1, map[string]time.Time{s1.ID: t1, s2.ID: t2}},
			{t1.Add(time.Millisecond), map[string]time.Time{s2.ID: t2}},
			{t2.Add(time.Millisecond), map[string]time.Time{}},
		} {
			revs, err := f.st.RevokedSince(f.ctx, tc.since)
			got := map[string]time.Time{}
			for _, r := range revs {
				got[r.SessionID] = r.RevokedAt
			}
			if err != nil || len(revs) != len(tc.want) || !mapsEqualTimes(got, tc.want) {
				t.Errorf("RevokedSince(base+%v): %+v %v, want %v", tc.since.Sub(base), revs, err, tc.want)
			}
		}
	})

	t.Run("DeleteExpired removes families that expired before the time, with their tokens", func(t *testing.T) {
		f := newFixture(t, newStore)
		u := f.user("alice")
		gone := f.session(u, "gone", time.Minute)
		edge := f.session(u, "edge", 2*time.Minute) // expires exactly at the cut-off: not before it
		live := f.session(u, "live", time.Hour)
		f.mustRotate(gone.ID, 0, base.Add(time.Second))
		n, err := f.st.DeleteExpired(f.ctx, base.Add(2*time.Minute))
		if err != nil || n != 1 {
			t.Fatalf("DeleteExpired: %d %v, want 1", n, err)
		}
		if _, err := f.st.Session(f.ctx, gone.ID); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("expired session: %v, want ErrNotFound", err)
		}
		for i := range 2 {
			if _, err := f.st.SessionByToken(f.ctx, tok(gone.ID, i)); !errors.Is(err, server.ErrNotFound) {
				t.Errorf("token %d of the expired session: %v, want ErrNotFound", i, err)
			}
		}
		for _, s := range []server.Session{edge, live} {
			if got := f.mustSession(s.ID); !sameSession(got, s) {
				t.Errorf("kept session %s: %+v", s.ID, got)
			}
		}
	})
}

func mapsEqualTimes(a, b map[string]time.Time) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !w.Equal(v) {
			return false
		}
	}
	return true
}

func runRotation(t *testing.T, newStore func(t *testing.T) server.Store) {
	t.Run("an unused token rotates once to its successor", func(t *testing.T) {
		f := newFixture(t, newStore)
		u := f.user("alice")
		s := f.session(u, "s", time.Hour)
		res, err := f.rotate(s.ID, 0, base.Add(time.Second))
		if err != nil || res.Replayed || !sameSession(res.Session, s) || !sameUser(res.User, u) {
			t.Fatalf("Rotate: %+v %v, want a fresh rotation of %+v for %+v", res, err, s, u)
		}
		if got, err := f.st.SessionByToken(f.ctx, tok(s.ID, 1)); err != nil || got.ID != s.ID {
			t.Errorf("the successor belongs to %+v %v", got, err)
		}
		for i := 1; i < 5; i++ {
			f.mustRotate(s.ID, i, base.Add(time.Duration(i+1)*time.Second))
		}
	})

	t.Run("the just-rotated token within grace replays and writes nothing", func(t *testing.T) {
		f := newFixture(t, newStore)
		u := f.user("alice")
		s := f.session(u, "s", time.Hour)
		used := base.Add(time.Second)
		f.mustRotate(s.ID, 0, used)
		res, err := f.rotate(s.ID, 0, used.Add(5*time.Second))
		if err != nil || !res.Replayed || !sameSession(res.Session, s) || !sameUser(res.User, u) {
			t.Fatalf("replay: %+v %v, want Replayed for %+v", res, err, s)
		}
		// A replay inserts no successor of its own…
		other := tok("elsewhere", 0)
		res, err = f.st.Rotate(f.ctx, server.RotateRequest{Presented: tok(s.ID, 0), Next: other, Now: used.Add(6 * time.Second), Grace: grace})
		if err != nil || !res.Replayed {
			t.Fatalf("replay with another successor: %+v %v", res, err)
		}
		if _, err := f.st.SessionByToken(f.ctx, other); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("a replay stored a successor: %v", err)
		}
		// …and does not move the time of use: the window still ends Grace after the first use.
		if res, err := f.rotate(s.ID, 0, used.Add(grace)); err != nil || !res.Replayed {
			t.Errorf("replay exactly Grace after use: %+v %v, want Replayed", res, err)
		}
		if _, err := f.rotate(s.ID, 0, used.Add(grace+time.Millisecond)); !errors.Is(err, server.ErrReuseDetected) {
			t.Errorf("just past the first use's window: %v, want ErrReuseDetected", err)
		}
	})

	t.Run("the rotated token after grace is reuse and revokes the family", func(t *testing.T) {
		f := newFixture(t, newStore)
		u := f.user("alice")
		s := f.session(u, "s", time.Hour)
		f.mustRotate(s.ID, 0, base)
		at := base.Add(grace + time.Millisecond)
		res, err := f.rotate(s.ID, 0, at)
		if !errors.Is(err, server.ErrReuseDetected) || res.Session.ID != s.ID || !sameUser(res.User, u) {
			t.Fatalf("reuse: %+v %v, want ErrReuseDetected with the session and user", res, err)
		}
		want := revoked(s, at, server.RevokeReuse)
		if got := f.mustSession(s.ID); !sameSession(got, want) {
			t.Errorf("family: %+v, want %+v", got, want)
		}
		if revs, err := f.st.RevokedSince(f.ctx, at); err != nil || len(revs) != 1 || revs[0].SessionID != s.ID {
			t.Errorf("RevokedSince: %+v %v", revs, err)
		}
		if _, err := f.rotate(s.ID, 1, at); !errors.Is(err, server.ErrSessionRevoked) {
			t.Errorf("the other holder's newest token: %v, want ErrSessionRevoked", err)
		}
	})

	t.Run("a token whose successor was spent is reuse even within grace", func(t *testing.T) {
		f := newFixture(t, newStore)
		s := f.session(f.user("alice"), "s", time.Hour)
		f.mustRotate(s.ID, 0, base.Add(time.Second))
		f.mustRotate(s.ID, 1, base.Add(2*time.Second))
		at := base.Add(3 * time.Second)
		if _, err := f.rotate(s.ID, 0, at); !errors.Is(err, server.ErrReuseDetected) {
			t.Fatalf("grandparent: %v, want ErrReuseDetected", err)
		}
		if got, want := f.mustSession(s.ID), revoked(s, at, server.RevokeReuse); !sameSession(got, want) {
			t.Errorf("family: %+v, want %+v", got, want)
		}
	})

	t.Run("a revoked family cannot rotate and keeps its reason", func(t *testing.T) {
		f := newFixture(t, newStore)
		s := f.session(f.user("alice"), "s", time.Hour)
		f.mustRotate(s.ID, 0, base.Add(time.Second))
		out := revoked(s, base.Add(2*time.Second), server.RevokeLogout)
		f.st.RevokeSession(f.ctx, s.ID, server.RevokeLogout, out.RevokedAt)
		for _, tc := range []struct {
			what string
			i    int
			at   time.Time
		}{
			{"its unused token", 1, base.Add(3 * time.Second)},
			{"its used token within grace", 0, base.Add(3 * time.Second)},
			{"its used token after grace", 0, base.Add(time.Minute)},
		} {
			if _, err := f.rotate(s.ID, tc.i, tc.at); !errors.Is(err, server.ErrSessionRevoked) {
				t.Errorf("%s: %v, want ErrSessionRevoked", tc.what, err)
			}
		}
		if got := f.mustSession(s.ID); !sameSession(got, out) {
			t.Errorf("family: %+v, want %+v", got, out)
		}
	})

	t.Run("an expired family cannot rotate, and revocation is reported first", func(t *testing.T) {
		f := newFixture(t, newStore)
		u := f.user("alice")
		expired := f.session(u, "expired", time.Minute)
		both := f.session(u, "both", time.Minute)
		f.st.RevokeSession(f.ctx, both.ID, server.RevokeLogout, base)
		after := base.Add(time.Minute + time.Second)
		if _, err := f.rotate(expired.ID, 0, after); !errors.Is(err, server.ErrSessionExpired) {
			t.Errorf("expired: %v, want ErrSessionExpired", err)
		}
		if _, err := f.rotate(both.ID, 0, after); !errors.Is(err, server.ErrSessionRevoked) {
			t.Errorf("revoked and expired: %v, want ErrSessionRevoked", err)
		}
		if got := f.mustSession(expired.ID); !sameSession(got, expired) {
			t.Errorf("an expired rotation changed the family: %+v", got)
		}
	})

	// The order of the checks (server.DecideRotation): unknown, revoked (a missing user counts
	// as revoked), expired, then fresh, replay or reuse.
	t.Run("a family whose user is gone is revoked, expired or not", func(t *testing.T) {
		f := newFixture(t, newStore)
		alice := f.user("alice")
		deleted := f.session(alice, "deleted", time.Minute)
		if _, err := f.st.DeleteUser(f.ctx, "alice", base); err != nil {
			t.Fatal(err)
		}
		// A family whose user row is gone without the revocation DeleteUser writes: the
		// user's id was never stored (or the row went behind authctl's back).
		orphan := f.session(server.User{ID: alice.ID + 1000}, "orphan", time.Minute)
		for _, tc := range []struct {
			what string
			s    server.Session
			at   time.Time
		}{
			{"a deleted user's live family", deleted, base.Add(time.Second)},
			{"a deleted user's expired family", deleted, base.Add(2 * time.Minute)},
			{"a family of no user", orphan, base.Add(time.Second)},
			{"an expired family of no user", orphan, base.Add(2 * time.Minute)},
		} {
			if _, err := f.rotate(tc.s.ID, 0, tc.at); !errors.Is(err, server.ErrSessionRevoked) {
				t.Errorf("%s: %v, want ErrSessionRevoked", tc.what, err)
			}
		}
		if got := f.mustSession(orphan.ID); !sameSession(got, orphan) {
			t.Errorf("a refused rotation changed the family: %+v, want %+v", got, orphan)
		}
	})

	t.Run("a spent token of an expired family is expired, not reuse", func(t *testing.T) {
		f := newFixture(t, newStore)
		s := f.session(f.user("alice"), "s", time.Minute)
		f.mustRotate(s.ID, 0, base.Add(time.Second))
		if _, err := f.rotate(s.ID, 0, base.Add(2*time.Minute)); !errors.Is(err, server.ErrSessionExpired) {
			t.Errorf("spent token after expiry: %v, want ErrSessionExpired", err)
		}
		if got := f.mustSession(s.ID); !sameSession(got, s) {
			t.Errorf("an expired family was revoked: %+v, want %+v", got, s)
		}
	})

	// Every combination of the facts the rules ask about, each in a family of its own, must
	// end as server.DecideRotation says: a store that renders the rules into SQL is held to
	// the Go rules here.
	t.Run("every combination of facts rotates as DecideRotation decides", func(t *testing.T) {
		f := newFixture(t, newStore)
		alice := f.user("alice")
		spentAt, childSpentAt := base.Add(time.Second), base.Add(2*time.Second)
		if _, err := f.rotate("nobody", 0, base); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("an unknown token: %v, want ErrNotFound", err)
		}
		type spending struct {
			what       string
			spent      bool
			after      time.Duration // from spentAt to the presentation
			childSpent bool
		}
		n := 0
		for _, revoked := range []bool{false, true} {
			for _, userGone := range []bool{false, true} {
				for _, expired := range []bool{false, true} {
					for _, sp := range []spending{
						{"unused", false, 5 * time.Second, false},
						{"spent within grace, child unused", true, grace, false},
						{"spent within grace, child spent", true, grace / 2, true},
						{"spent after grace, child unused", true, grace + time.Millisecond, false},
						{"spent after grace, child spent", true, 2 * grace, true},
					} {
						if userGone && sp.spent {
							continue // a family of no user cannot be spent through the Store
						}
						n++
						sid := fmt.Sprintf("c%02d", n)
						what := fmt.Sprintf("revoked=%v user gone=%v expired=%v %s", revoked, userGone, expired, sp.what)
						at := spentAt.Add(sp.after)
						ttl := time.Hour
						if expired {
							ttl = at.Sub(base) // expiring exactly as the token is presented
						}
						u := alice
						if userGone {
							u = server.User{ID: alice.ID + 1000}
						}
						s := f.session(u, sid, ttl)
						facts := server.RotationFacts{TokenFound: true, Session: s, UserFound: !userGone}
						if sp.spent {
							f.mustRotate(sid, 0, spentAt)
							facts.UsedAt, facts.ChildFound = spentAt, true
						}
						if sp.childSpent {
							f.mustRotate(sid, 1, childSpentAt)
							facts.ChildUsedAt = childSpentAt
						}
						if revoked {
							rs, err := f.st.RevokeSession(f.ctx, sid, server.RevokeLogout, childSpentAt)
							if err != nil {
								t.Fatal(err)
							}
							facts.Session = rs
						}
						req := server.RotateRequest{Presented: tok(sid, 0), Next: tok(sid, 1000), Now: at, Grace: grace}
						want := server.DecideRotation(facts, req)
						res, err := f.st.Rotate(f.ctx, req)
						if !errors.Is(err, want.Err()) || want.Err() == nil && err != nil {
							t.Errorf("%s: %v, want %v (%v)", what, err, want.Err(), want)
						} else if err == nil && res.Replayed != (want == server.RotationReplay) {
							t.Errorf("%s: replayed=%v, want %v", what, res.Replayed, want)
						}
						if revoked := f.mustSession(sid).Revoked(); revoked != (want == server.RotationReuse || facts.Session.Revoked()) {
							t.Errorf("%s (%v): family revoked=%v", what, want, revoked)
						}
					}
				}
			}
		}
	})

	t.Run("of 16 concurrent rotations of one token exactly one is fresh and the rest replay", func(t *testing.T) {
		f := newFixture(t, newStore)
		s := f.session(f.user("alice"), "s", time.Hour)
		var (
			wg              sync.WaitGroup
			mu              sync.Mutex
			fresh, replayed int
			errs            []error
		)
		start := make(chan struct{})
		for range 16 {
			wg.Go(func() {
				<-start
				res, err := f.rotate(s.ID, 0, base.Add(time.Second))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					errs = append(errs, err)
				case res.Replayed:
					replayed++
				default:
					fresh++
				}
			})
		}
		close(start)
		wg.Wait()
		if fresh != 1 || replayed != 15 || len(errs) != 0 {
			t.Errorf("fresh %d, replayed %d, errors %v; want 1, 15, none", fresh, replayed, errs)
		}
		if got := f.mustSession(s.ID); got.Revoked() {
			t.Errorf("a benign race revoked the family: %+v", got)
		}
	})

	t.Run("families rotating concurrently do not fail each other", func(t *testing.T) {
		f := newFixture(t, newStore)
		u := f.user("alice")
		var wg sync.WaitGroup
		errs := make(chan error, 8*10)
		for c := range 8 {
			s := f.session(u, fmt.Sprintf("chain-%d", c), time.Hour)
			wg.Go(func() {
				for i := range 10 {
					if res, err := f.rotate(s.ID, i, base.Add(time.Duration(i)*time.Second)); err != nil || res.Replayed {
						errs <- fmt.Errorf("%s/%d: replayed=%v %w", s.ID, i, res.Replayed, err)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

func runSecrets(t *testing.T, newStore func(t *testing.T) server.Store) {
	t.Run("concurrent callers all get the first secret stored", func(t *testing.T) {
		f := newFixture(t, newStore)
		got := make([][]byte, 16)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range got {
			wg.Go(func() {
				<-start
				v, err := f.st.Secret(f.ctx, "cookie", func() ([]byte, error) { return fmt.Appendf(nil, "secret-%d", i), nil })
				if err != nil {
					t.Errorf("caller %d: %v", i, err)
				}
				got[i] = v
			})
		}
		close(start)
		wg.Wait()
		if len(got[0]) == 0 {
			t.Fatal("empty secret")
		}
		for i := range got {
			if !bytes.Equal(got[i], got[0]) {
				t.Fatalf("callers saw different secrets: %q and %q", got[i], got[0])
			}
		}
		v, err := f.st.Secret(f.ctx, "cookie", func() ([]byte, error) {
			t.Error("generate called for a stored secret")
			return []byte("late"), nil
		})
		if err != nil || !bytes.Equal(v, got[0]) {
			t.Errorf("later call: %q %v, want %q", v, err, got[0])
		}
	})

	t.Run("secrets are kept apart by name", func(t *testing.T) {
		f := newFixture(t, newStore)
		for _, name := range []string{"a", "b"} {
			v, err := f.st.Secret(f.ctx, name, func() ([]byte, error) { return []byte("value-" + name), nil })
			if err != nil || string(v) != "value-"+name {
				t.Errorf("secret %s: %q %v", name, v, err)
			}
		}
	})

	t.Run("a failing generate stores nothing", func(t *testing.T) {
		f := newFixture(t, newStore)
		boom := errors.New("no entropy")
		if _, err := f.st.Secret(f.ctx, "s", func() ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
			t.Errorf("generate's error: %v, want %v", err, boom)
		}
		if v, err := f.st.Secret(f.ctx, "s", func() ([]byte, error) { return []byte("ok"), nil }); err != nil || string(v) != "ok" {
			t.Errorf("after the failure: %q %v, want ok", v, err)
		}
	})
}

func runSigningKeys(t *testing.T, newStore func(t *testing.T) server.Store) {
	key := func(kid, alg string, created time.Time) server.SigningKey {
		return server.SigningKey{KID: kid, Alg: alg, Private: []byte("private-" + kid), CreatedAt: created, Active: true}
	}

	t.Run("EnsureSigningKey keeps the first active key of each algorithm", func(t *testing.T) {
		f := newFixture(t, newStore)
		k1 := key("k1", "EdDSA", base)
		if got, err := f.st.EnsureSigningKey(f.ctx, k1); err != nil || !sameKey(got, k1) {
			t.Fatalf("first: %+v %v, want %+v", got, err, k1)
		}
		if got, err := f.st.EnsureSigningKey(f.ctx, key("k2", "EdDSA", base.Add(time.Second))); err != nil || !sameKey(got, k1) {
			t.Errorf("second: %+v %v, want the first %+v", got, err, k1)
		}
		h1 := key("h1", "HS256", base.Add(2*time.Second))
		if got, err := f.st.EnsureSigningKey(f.ctx, h1); err != nil || !sameKey(got, h1) {
			t.Errorf("another algorithm: %+v %v, want its own %+v", got, err, h1)
		}
		keys, err := f.st.SigningKeys(f.ctx, base)
		if err != nil || len(keys) != 2 {
			t.Errorf("SigningKeys: %+v %v, want h1 and k1", keys, err)
		}
	})

	t.Run("concurrent EnsureSigningKey calls agree on one key", func(t *testing.T) {
		f := newFixture(t, newStore)
		got := make([]server.SigningKey, 8)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range got {
			wg.Go(func() {
				<-start
				k, err := f.st.EnsureSigningKey(f.ctx, key(fmt.Sprintf("k%d", i), "ES256", base.Add(time.Duration(i)*time.Second)))
				if err != nil {
					t.Errorf("caller %d: %v", i, err)
				}
				got[i] = k
			})
		}
		close(start)
		wg.Wait()
		for i := range got {
			if !sameKey(got[i], got[0]) {
				t.Fatalf("callers got different keys: %+v and %+v", got[i], got[0])
			}
		}
		if keys, err := f.st.SigningKeys(f.ctx, base); err != nil || len(keys) != 1 || !sameKey(keys[0], got[0]) {
			t.Errorf("SigningKeys: %+v %v, want only %s", keys, err, got[0].KID)
		}
	})

	t.Run("rotation retires the previous key and SigningKeys lists live keys newest first", func(t *testing.T) {
		f := newFixture(t, newStore)
		k1, h1, k2, k3 := key("k1", "EdDSA", base), key("h1", "HS256", base.Add(time.Second)),
			key("k2", "EdDSA", base.Add(2*time.Second)), key("k3", "EdDSA", base.Add(3*time.Second))
		f.st.EnsureSigningKey(f.ctx, k1)
		f.st.EnsureSigningKey(f.ctx, h1)
		retire1, retire2 := base.Add(time.Hour), base.Add(2*time.Hour)
		if err := f.st.RotateSigningKey(f.ctx, k2, retire1); err != nil {
			t.Fatal(err)
		}
		if err := f.st.RotateSigningKey(f.ctx, k3, retire2); err != nil {
			t.Fatal(err)
		}
		old1, old2 := k1, k2
		old1.Active, old1.RetireAt = false, retire1 // an already inactive key keeps its retirement
		old2.Active, old2.RetireAt = false, retire2
		for _, tc := range []struct {
			now  time.Time
			want []server.SigningKey
		}{
			{base.Add(time.Minute), []server.SigningKey{k3, old2, h1, old1}},
			{retire1, []server.SigningKey{k3, old2, h1}}, // RetireAt must be after now
			{retire2.Add(time.Millisecond), []server.SigningKey{k3, h1}},
		} {
			keys, err := f.st.SigningKeys(f.ctx, tc.now)
			if err != nil || !slices.EqualFunc(keys, tc.want, sameKey) {
				t.Errorf("SigningKeys(base+%v):\n got %+v %v\nwant %+v", tc.now.Sub(base), keys, err, tc.want)
			}
		}
		if got, err := f.st.EnsureSigningKey(f.ctx, key("k4", "EdDSA", base.Add(4*time.Second))); err != nil || !sameKey(got, k3) {
			t.Errorf("EnsureSigningKey after rotation: %+v %v, want %+v", got, err, k3)
		}
	})
}
