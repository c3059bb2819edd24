package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/authctl/authctl/server"
)

// kept is server.SpentTokensKept, the newest spent tokens a family keeps.
const kept = server.SpentTokensKept

// stored counts which of tok(sid, 0..n) the store still knows.
func (f fixture) stored(sid string, n int) (known []bool, count int) {
	f.t.Helper()
	known = make([]bool, n+1)
	for i := range known {
		_, err := f.st.SessionByToken(f.ctx, tok(sid, i))
		switch {
		case err == nil:
			known[i] = true
			count++
		case !errors.Is(err, server.ErrNotFound):
			f.t.Fatalf("SessionByToken %s/%d: %v", sid, i, err)
		}
	}
	return known, count
}

// chain rotates tok(sid, from..to-1), one a second after at.
func (f fixture) chain(sid string, from, to int, at time.Time) time.Time {
	f.t.Helper()
	for i := from; i < to; i++ {
		at = at.Add(time.Second)
		f.mustRotate(sid, i, at)
	}
	return at
}

func runBounded(t *testing.T, newStore func(t *testing.T) server.Store) {
	t.Run("a family keeps its newest spent tokens and drops older ones, however often it is refreshed", func(t *testing.T) {
		f := newFixture(t, newStore)
		s := f.session(f.user("alice"), "s", 24*time.Hour)
		const n = 6*kept + 5
		at := f.chain(s.ID, 0, n, base)
		known, count := f.stored(s.ID, n)
		if count > 2*kept {
			t.Errorf("%d of the family's %d tokens are stored, want at most %d", count, n+1, 2*kept)
		}
		for i := n - kept; i <= n; i++ {
			if !known[i] {
				t.Errorf("token %d of %d is gone; the newest %d spent tokens and the live one must stay", i, n, kept)
			}
		}
		if known[0] {
			t.Error("the family's first token is still stored after", n, "rotations")
		}
		if got := f.mustSession(s.ID); !sameSession(got, s) {
			t.Errorf("trimming changed the session: %+v", got)
		}

		at = at.Add(grace + time.Second)
		if _, err := f.rotate(s.ID, 0, at); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("a dropped token: %v, want ErrNotFound", err)
		}
		if got := f.mustSession(s.ID); got.Revoked() {
			t.Errorf("presenting a dropped token revoked the family: %+v", got)
		}
		if _, err := f.rotate(s.ID, n-kept, at); !errors.Is(err, server.ErrReuseDetected) {
			t.Errorf("the oldest token that must be kept: %v, want ErrReuseDetected", err)
		}
	})

	t.Run("the grace replay holds across a trim", func(t *testing.T) {
		f := newFixture(t, newStore)
		s := f.session(f.user("alice"), "s", 24*time.Hour)
		// Rotating token 2k-1 is the rotation that trims.
		at := f.chain(s.ID, 0, 2*kept, base)
		res, err := f.rotate(s.ID, 2*kept-1, at.Add(time.Second))
		if err != nil || !res.Replayed {
			t.Errorf("replay of the trimming rotation's token: %+v %v, want Replayed", res, err)
		}
		f.chain(s.ID, 2*kept, 2*kept+3, at.Add(time.Second))
	})

	t.Run("DeleteExpired and PruneSessions still find every token of a trimmed family", func(t *testing.T) {
		f := newFixture(t, newStore)
		u := f.user("alice")
		const n = 3*kept + 7
		a, b := f.session(u, "a", time.Hour), f.session(u, "b", 2*time.Hour)
		f.chain(a.ID, 0, n, base)
		f.chain(b.ID, 0, n, base)
		if got, err := f.st.DeleteExpired(f.ctx, base.Add(90*time.Minute)); err != nil || got != 1 {
			t.Fatalf("DeleteExpired: %d %v, want 1", got, err)
		}
		if got, err := f.st.PruneSessions(f.ctx, base.Add(3*time.Hour), 10); err != nil || got != 1 {
			t.Fatalf("PruneSessions: %d %v, want 1", got, err)
		}
		// A token row left behind is invisible while its session is gone; a new session
		// under the same id shows it.
		for _, sid := range []string{a.ID, b.ID} {
			if err := f.st.CreateSession(f.ctx, server.Session{ID: sid, UserID: u.ID, CreatedAt: base, ExpiresAt: base.Add(time.Hour)},
				server.RefreshToken{Hash: tok("again-"+sid, 0), SessionID: sid, IssuedAt: base}); err != nil {
				t.Fatal(err)
			}
			if _, count := f.stored(sid, n); count != 0 {
				t.Errorf("%d tokens of family %s were left behind", count, sid)
			}
		}
	})

	t.Run("PruneSessions deletes sessions that ended before the time, with their tokens, limit at a time", func(t *testing.T) {
		f := newFixture(t, newStore)
		u := f.user("alice")
		cut := base.Add(5 * time.Minute)
		sessions := map[string]server.Session{}
		for _, c := range []struct {
			id      string
			ttl     time.Duration
			revoked time.Duration // after base; 0: not revoked
		}{
			{"revoked-before", time.Hour, time.Minute},
			{"expired-before", 2 * time.Minute, 0},
			{"revoked-at-the-cut", time.Hour, 5 * time.Minute},
			{"revoked-after", time.Hour, 10 * time.Minute},
			{"expired-after", 20 * time.Minute, 0},
			{"live", time.Hour, 0},
		} {
			s := f.session(u, c.id, c.ttl)
			f.mustRotate(s.ID, 0, base.Add(time.Second))
			if c.revoked > 0 {
				var err error
				if s, err = f.st.RevokeSession(f.ctx, s.ID, server.RevokeLogout, base.Add(c.revoked)); err != nil {
					t.Fatal(err)
				}
			}
			sessions[s.ID] = s
		}
		if n, err := f.st.PruneSessions(f.ctx, cut, 0); err != nil || n != 0 {
			t.Errorf("limit 0: %d %v, want nothing deleted", n, err)
		}
		var total int64
		for round := 1; ; round++ {
			n, err := f.st.PruneSessions(f.ctx, cut, 1)
			if err != nil || n > 1 {
				t.Fatalf("round %d: %d %v, want at most 1", round, n, err)
			}
			if n == 0 {
				break
			}
			if total += n; round > 5 {
				t.Fatal("PruneSessions does not stop")
			}
		}
		if total != 2 {
			t.Errorf("%d sessions pruned, want 2", total)
		}
		for id, s := range sessions {
			gone := id == "revoked-before" || id == "expired-before"
			_, err := f.st.Session(f.ctx, id)
			_, count := f.stored(id, 1)
			switch {
			case gone && (!errors.Is(err, server.ErrNotFound) || count != 0):
				t.Errorf("%s: session %v and %d tokens left, want both gone", id, err, count)
			case !gone && (err != nil || count != 2):
				t.Errorf("%s: session %v and %d of 2 tokens, want it kept whole", id, err, count)
			case !gone && !sameSession(f.mustSession(id), s):
				t.Errorf("%s changed: %+v", id, f.mustSession(id))
			}
		}
	})
}

func runProbe(t *testing.T, newStore func(t *testing.T) server.Store) {
	t.Run("a writable store passes the probe, again and again", func(t *testing.T) {
		f := newFixture(t, newStore)
		for i := range 3 {
			if err := f.st.Probe(f.ctx, base.Add(time.Duration(i)*time.Second)); err != nil {
				t.Fatalf("probe %d: %v", i, err)
			}
		}
	})

	t.Run("server settings are recorded, replaced and read back", func(t *testing.T) {
		f := newFixture(t, newStore)
		if _, err := f.st.ServerSetting(f.ctx, "signing"); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("unrecorded setting: %v, want ErrNotFound", err)
		}
		for i, v := range []string{`{"alg":"EdDSA"}`, `{"alg":"ES256"}`} {
			at := base.Add(time.Duration(i) * time.Minute)
			if err := f.st.SetServerSetting(f.ctx, "signing", v, at); err != nil {
				t.Fatal(err)
			}
			got, err := f.st.ServerSetting(f.ctx, "signing")
			if err != nil || got.Name != "signing" || got.Value != v || !got.UpdatedAt.Equal(at) {
				t.Errorf("after recording %s: %+v %v", v, got, err)
			}
		}
		if err := f.st.SetServerSetting(f.ctx, "other", "x", base); err != nil {
			t.Fatal(err)
		}
		if got, err := f.st.ServerSetting(f.ctx, "signing"); err != nil || got.Value != `{"alg":"ES256"}` {
			t.Errorf("settings are not kept apart by name: %+v %v", got, err)
		}
	})
}
