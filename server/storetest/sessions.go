package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authctl/authctl/server"
)

// The sessions list (client details, last refresh, per-user listing and revocation) and the
// audit trail of admin changes, as server.Store promises them.

// sessionAt stores a family for u created at created, with the client details given.
func (f fixture) sessionAt(u server.User, id string, created time.Time, ttl time.Duration, addr, ua string) server.Session {
	f.t.Helper()
	s := server.Session{ID: id, UserID: u.ID, CreatedAt: created, ExpiresAt: created.Add(ttl), ClientAddr: addr, UserAgent: ua}
	if err := f.st.CreateSession(f.ctx, s, server.RefreshToken{Hash: tok(id, 0), SessionID: id, IssuedAt: created}); err != nil {
		f.t.Fatalf("create session %s: %v", id, err)
	}
	return s
}

func (f fixture) audit(since time.Time) []server.AuditEvent {
	f.t.Helper()
	evs, err := f.st.AuditSince(f.ctx, since, 0, 100)
	if err != nil {
		f.t.Fatalf("AuditSince: %v", err)
	}
	return evs
}

func ids(list []server.Session) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = s.ID
	}
	return out
}

// admin is the actor of the suite's audited changes.
var admin = server.Actor{Name: "root", Via: server.ViaCLI, Addr: "db1.example"}

func runSessionList(t *testing.T, newStore func(t *testing.T) server.Store) {
	t.Run("a session keeps its client details and the time of its last fresh rotation", func(t *testing.T) {
		f := newFixture(t, newStore)
		u := f.user("alice")
		f.sessionAt(u, "s1", base, time.Hour, "192.0.2.7", "authctl/1.2 (linux)")
		got := f.mustSession("s1")
		if got.ClientAddr != "192.0.2.7" || got.UserAgent != "authctl/1.2 (linux)" || !got.RefreshedAt.IsZero() {
			t.Fatalf("new session = %+v, want its client details and no refresh", got)
		}
		f.mustRotate("s1", 0, base.Add(time.Minute))
		if got := f.mustSession("s1"); !got.RefreshedAt.Equal(base.Add(time.Minute)) || got.RefreshedAt.Location() != time.UTC {
			t.Fatalf("after a rotation RefreshedAt = %v, want %v in UTC", got.RefreshedAt, base.Add(time.Minute))
		}
		// A replay within grace writes nothing, so it is no refresh.
		if res, err := f.rotate("s1", 0, base.Add(time.Minute+time.Second)); err != nil || !res.Replayed {
			t.Fatalf("replay: %+v %v", res, err)
		}
		if got := f.mustSession("s1"); !got.RefreshedAt.Equal(base.Add(time.Minute)) {
			t.Fatalf("after a replay RefreshedAt = %v, want it unchanged", got.RefreshedAt)
		}
		f.mustRotate("s1", 1, base.Add(2*time.Minute))
		if got := f.mustSession("s1"); !got.RefreshedAt.Equal(base.Add(2 * time.Minute)) {
			t.Fatalf("after a second rotation RefreshedAt = %v", got.RefreshedAt)
		}
	})

	t.Run("UserSessions lists the user's unexpired sessions, revoked too, newest first, up to the limit", func(t *testing.T) {
		f := newFixture(t, newStore)
		alice, bob := f.user("alice"), f.user("bob")
		f.sessionAt(alice, "a-old", base, 10*time.Hour, "", "")
		f.sessionAt(alice, "a-mid", base.Add(time.Minute), 10*time.Hour, "", "")
		f.sessionAt(alice, "a-new", base.Add(2*time.Minute), 10*time.Hour, "", "")
		f.sessionAt(alice, "a-expired", base.Add(3*time.Minute), time.Hour, "", "")
		f.sessionAt(bob, "b", base.Add(4*time.Minute), 10*time.Hour, "", "")
		if _, err := f.st.RevokeSession(f.ctx, "a-mid", server.RevokeLogout, base.Add(5*time.Minute)); err != nil {
			t.Fatal(err)
		}
		now := base.Add(2 * time.Hour) // a-expired ended an hour and three minutes ago
		list, err := f.st.UserSessions(f.ctx, alice.ID, now, 10)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"a-new", "a-mid", "a-old"}; !slices.Equal(ids(list), want) {
			t.Fatalf("UserSessions = %v, want %v", ids(list), want)
		}
		if mid := list[1]; !mid.Revoked() || mid.RevokeReason != server.RevokeLogout || !mid.RevokedAt.Equal(base.Add(5*time.Minute)) {
			t.Fatalf("the revoked session reads %+v", mid)
		}
		if list, err := f.st.UserSessions(f.ctx, alice.ID, now, 2); err != nil || !slices.Equal(ids(list), []string{"a-new", "a-mid"}) {
			t.Fatalf("UserSessions limit 2 = %v, %v", ids(list), err)
		}
		if list, err := f.st.UserSessions(f.ctx, 1<<40, now, 10); err != nil || len(list) != 0 {
			t.Fatalf("UserSessions of nobody = %v, %v; want none", ids(list), err)
		}
	})

	t.Run("RevokeUserSessions revokes the user's live sessions only and reports them", func(t *testing.T) {
		f := newFixture(t, newStore)
		alice, bob := f.user("alice"), f.user("bob")
		f.sessionAt(alice, "a1", base, time.Hour, "", "")
		f.sessionAt(alice, "a2", base, time.Hour, "", "")
		f.sessionAt(alice, "a-out", base, time.Hour, "", "")
		f.sessionAt(bob, "b", base, time.Hour, "", "")
		if _, err := f.st.RevokeSession(f.ctx, "a-out", server.RevokeLogout, base.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		at := base.Add(time.Minute)
		got, err := f.st.RevokeUserSessions(f.ctx, alice.ID, server.RevokeByAdmin, at)
		slices.Sort(got)
		if err != nil || !slices.Equal(got, []string{"a1", "a2"}) {
			t.Fatalf("RevokeUserSessions = %v, %v; want [a1 a2]", got, err)
		}
		for _, id := range got {
			if s := f.mustSession(id); !s.RevokedAt.Equal(at) || s.RevokeReason != server.RevokeByAdmin {
				t.Errorf("%s after RevokeUserSessions: %+v", id, s)
			}
		}
		if s := f.mustSession("a-out"); s.RevokeReason != server.RevokeLogout || !s.RevokedAt.Equal(base.Add(time.Second)) {
			t.Errorf("an earlier revocation was overwritten: %+v", s)
		}
		if s := f.mustSession("b"); s.Revoked() {
			t.Errorf("another user's session was revoked: %+v", s)
		}
		revs, err := f.st.RevokedSince(f.ctx, at)
		if err != nil || len(revs) != 2 {
			t.Fatalf("RevokedSince after RevokeUserSessions = %v, %v; want both", revs, err)
		}
		if again, err := f.st.RevokeUserSessions(f.ctx, alice.ID, server.RevokeByAdmin, at.Add(time.Minute)); err != nil || again == nil || len(again) != 0 {
			t.Fatalf("a second RevokeUserSessions = %#v, %v; want an empty list", again, err)
		}
	})
}

func runAudit(t *testing.T, newStore func(t *testing.T) server.Store) {
	t.Run("each admin change with an actor stores one audit event, in order", func(t *testing.T) {
		f := newFixture(t, newStore)
		ctx := server.WithActor(f.ctx, admin)
		at := func(m int) time.Time { return base.Add(time.Duration(m) * time.Minute) }
		alice, err := f.st.CreateUser(ctx, "alice", "ops", "h1", at(1))
		if err != nil {
			t.Fatal(err)
		}
		f.sessionAt(alice, "a1", at(1), time.Hour, "", "")
		f.sessionAt(alice, "a2", at(1), time.Hour, "", "")
		if _, err := f.st.SetPassword(ctx, "alice", "h2", at(2)); err != nil {
			t.Fatal(err)
		}
		f.sessionAt(alice, "a3", at(2), time.Hour, "", "")
		f.sessionAt(alice, "a4", at(2), time.Hour, "", "")
		if _, err := f.st.RevokeSession(ctx, "a3", server.RevokeByAdmin, at(3)); err != nil {
			t.Fatal(err)
		}
		if _, err := f.st.RevokeUserSessions(ctx, alice.ID, server.RevokeByAdmin, at(4)); err != nil {
			t.Fatal(err)
		}
		k := server.SigningKey{KID: "k1", Alg: "HS256", Private: []byte("0123456789abcdef0123456789abcdef"), CreatedAt: at(5)}
		if err := f.st.RotateSigningKey(ctx, k, at(6)); err != nil {
			t.Fatal(err)
		}
		if _, err := f.st.DeleteUser(ctx, "alice", at(7)); err != nil {
			t.Fatal(err)
		}
		want := []server.AuditEvent{
			{At: at(1), Action: server.AuditUserAdded, Subject: "alice", Detail: "role=ops"},
			{At: at(2), Action: server.AuditPasswordChanged, Subject: "alice", Detail: "sessions_revoked=2"},
			{At: at(3), Action: server.AuditSessionRevoked, Subject: "alice", Detail: "sid=a3"},
			{At: at(4), Action: server.AuditSessionsRevoked, Subject: "alice", Detail: "sessions_revoked=1"},
			{At: at(5), Action: server.AuditSigningKeyRotated, Subject: "k1", Detail: "alg=HS256"},
			{At: at(7), Action: server.AuditUserDeleted, Subject: "alice", Detail: "sessions_revoked=0"},
		}
		got := f.audit(base)
		if len(got) != len(want) {
			t.Fatalf("%d audit events, want %d: %+v", len(got), len(want), got)
		}
		for i, ev := range got {
			w := want[i]
			if !ev.At.Equal(w.At) || ev.Action != w.Action || ev.Subject != w.Subject || ev.Detail != w.Detail || ev.Actor != admin {
				t.Errorf("event %d = %+v, want %+v by %+v", i, ev, w, admin)
			}
			if i > 0 && ev.ID <= got[i-1].ID {
				t.Errorf("event %d has id %d after %d: ids must increase", i, ev.ID, got[i-1].ID)
			}
		}
		// Revoking a revoked session again is audited, and says so.
		if _, err := f.st.RevokeSession(ctx, "a3", server.RevokeByAdmin, at(8)); err != nil {
			t.Fatal(err)
		}
		if evs := f.audit(at(8)); len(evs) != 1 || !strings.Contains(evs[0].Detail, "already_revoked=true") || evs[0].Subject != "" {
			t.Fatalf("revoking again (the user is deleted) = %+v", evs)
		}
	})

	t.Run("changes without an actor and failed changes store no audit event", func(t *testing.T) {
		f := newFixture(t, newStore)
		u := f.user("alice") // no actor
		f.session(u, "s", time.Hour)
		if _, err := f.st.SetPassword(f.ctx, "alice", "h2", base); err != nil {
			t.Fatal(err)
		}
		if _, err := f.st.RevokeSession(f.ctx, "s", server.RevokeLogout, base); err != nil {
			t.Fatal(err)
		}
		ctx := server.WithActor(f.ctx, admin)
		if _, err := f.st.CreateUser(ctx, "alice", "user", "h", base); !errors.Is(err, server.ErrUserExists) {
			t.Fatalf("CreateUser of a taken name = %v", err)
		}
		if _, err := f.st.SetPassword(ctx, "nobody", "h", base); !errors.Is(err, server.ErrNotFound) {
			t.Fatalf("SetPassword of nobody = %v", err)
		}
		if _, err := f.st.DeleteUser(ctx, "nobody", base); !errors.Is(err, server.ErrNotFound) {
			t.Fatalf("DeleteUser of nobody = %v", err)
		}
		if _, err := f.st.RevokeSession(ctx, "nope", server.RevokeByAdmin, base); !errors.Is(err, server.ErrNotFound) {
			t.Fatalf("RevokeSession of nothing = %v", err)
		}
		if evs := f.audit(base.Add(-time.Hour)); len(evs) != 0 {
			t.Fatalf("audit events: %+v, want none", evs)
		}
	})

	t.Run("AuditSince reads from a time on, oldest first, at most the limit, paging by time and id", func(t *testing.T) {
		f := newFixture(t, newStore)
		ctx := server.WithActor(f.ctx, admin)
		for i, name := range []string{"u0", "u1", "u2", "u3"} {
			if _, err := f.st.CreateUser(ctx, name, "user", "h", base.Add(time.Duration(i)*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		subjects := func(evs []server.AuditEvent) []string {
			var out []string
			for _, ev := range evs {
				out = append(out, ev.Subject)
			}
			return out
		}
		if got := subjects(f.audit(base.Add(time.Second))); !slices.Equal(got, []string{"u1", "u2", "u3"}) {
			t.Fatalf("since +1s: %v", got)
		}
		evs, err := f.st.AuditSince(f.ctx, base, 0, 2)
		if got := subjects(evs); err != nil || !slices.Equal(got, []string{"u0", "u1"}) {
			t.Fatalf("limit 2: %v, %v", got, err)
		}
		// Paging on after the last event read, also among events of one millisecond.
		if _, err := f.st.CreateUser(ctx, "u1b", "user", "h", base.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		next, err := f.st.AuditSince(f.ctx, evs[1].At, evs[1].ID, 2)
		if got := subjects(next); err != nil || !slices.Equal(got, []string{"u1b", "u2"}) {
			t.Fatalf("the page after u1: %v, %v", got, err)
		}
		if got := f.audit(base.Add(time.Hour)); len(got) != 0 {
			t.Fatalf("since later: %+v", got)
		}
	})
}
