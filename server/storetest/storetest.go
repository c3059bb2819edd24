// Package storetest is the contract every server.Store implementation must pass: the
// embedded and the distributed store run this same suite, so they cannot drift apart.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/authctl/authctl/server"
)

// Run runs the contract against fresh, empty stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) server.Store) {
	base := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	h := func(s string) []byte { sum := sha256.Sum256([]byte(s)); return sum[:] }

	// withSession makes a user and a session whose first token is h(name+"-0").
	withSession := func(t *testing.T, st server.Store, name string, ttl time.Duration) (server.User, server.Session) {
		t.Helper()
		u, err := st.CreateUser(ctx, name, "user", "hash-"+name, base)
		if err != nil {
			t.Fatal(err)
		}
		s := server.Session{ID: "sid-" + name, UserID: u.ID, CreatedAt: base, ExpiresAt: base.Add(ttl)}
		if err := st.CreateSession(ctx, s, server.RefreshToken{Hash: h(name + "-0"), SessionID: s.ID, IssuedAt: base}); err != nil {
			t.Fatal(err)
		}
		return u, s
	}
	rotate := func(st server.Store, presented, next string, at time.Time) (server.RotateResult, error) {
		return st.Rotate(ctx, server.RotateRequest{Presented: h(presented), Next: h(next), Now: at, Grace: 10 * time.Second})
	}

	t.Run("users", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		bob, err := st.CreateUser(ctx, "bob", "ops", "hash-b", base)
		if err != nil {
			t.Fatal(err)
		}
		alice, _ := st.CreateUser(ctx, "alice", "user", "hash-a", base.Add(time.Second))
		if bob.ID == 0 || bob.ID == alice.ID || bob.Name != "bob" || bob.Role != "ops" || bob.PasswordHash != "hash-b" || !bob.CreatedAt.Equal(base) {
			t.Errorf("created %+v", bob)
		}
		if _, err := st.CreateUser(ctx, "bob", "user", "x", base); !errors.Is(err, server.ErrUserExists) {
			t.Errorf("duplicate name: %v", err)
		}
		if u, err := st.UserByName(ctx, "alice"); err != nil || u != alice {
			t.Errorf("UserByName: %+v %v", u, err)
		}
		if u, err := st.UserByID(ctx, bob.ID); err != nil || u != bob {
			t.Errorf("UserByID: %+v %v", u, err)
		}
		if _, err := st.UserByName(ctx, "carol"); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("unknown name: %v", err)
		}
		if _, err := st.UserByID(ctx, 9999); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("unknown id: %v", err)
		}
		users, err := st.ListUsers(ctx)
		if err != nil || len(users) != 2 || users[0].Name != "alice" || users[1].Name != "bob" {
			t.Errorf("ListUsers not by name: %+v %v", users, err)
		}
		if n, err := st.CountUsers(ctx); n != 2 || err != nil {
			t.Errorf("CountUsers %d %v", n, err)
		}
		if u, err := st.SetPassword(ctx, "bob", "hash-b2", base); err != nil || u.PasswordHash != "hash-b2" {
			t.Errorf("SetPassword: %+v %v", u, err)
		}
		if _, err := st.SetPassword(ctx, "carol", "x", base); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("SetPassword unknown: %v", err)
		}
		if _, err := st.DeleteUser(ctx, "carol", base); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("DeleteUser unknown: %v", err)
		}
		if _, err := st.DeleteUser(ctx, "bob", base); err != nil {
			t.Fatal(err)
		}
		if _, err := st.UserByName(ctx, "bob"); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("deleted user still there: %v", err)
		}
	})

	t.Run("password change and deletion revoke live sessions", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		_, s1 := withSession(t, st, "alice", time.Hour)
		_, s2 := withSession(t, st, "bob", time.Hour)
		at := base.Add(time.Minute)
		if _, err := st.SetPassword(ctx, "alice", "new", at); err != nil {
			t.Fatal(err)
		}
		if _, err := st.DeleteUser(ctx, "bob", at.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		for sid, reason := range map[string]string{s1.ID: server.RevokePasswordChanged, s2.ID: server.RevokeUserDeleted} {
			s, err := st.Session(ctx, sid)
			if err != nil || !s.Revoked() || s.RevokeReason != reason {
				t.Errorf("%s: %+v %v (want reason %s)", sid, s, err, reason)
			}
		}
		revs, err := st.RevokedSince(ctx, at)
		if err != nil || len(revs) != 2 {
			t.Fatalf("RevokedSince: %+v %v", revs, err)
		}
		if revs, _ := st.RevokedSince(ctx, at.Add(2*time.Second)); len(revs) != 0 {
			t.Errorf("RevokedSince later: %+v", revs)
		}
		if _, err := rotate(st, "alice-0", "alice-1", at); !errors.Is(err, server.ErrSessionRevoked) {
			t.Errorf("rotation after password change: %v", err)
		}
	})

	t.Run("sessions", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		u, s := withSession(t, st, "alice", time.Hour)
		got, err := st.Session(ctx, s.ID)
		if err != nil || got.ID != s.ID || got.UserID != u.ID || !got.CreatedAt.Equal(base) || !got.ExpiresAt.Equal(base.Add(time.Hour)) || got.Revoked() {
			t.Errorf("Session: %+v %v", got, err)
		}
		if _, err := st.Session(ctx, "nope"); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("unknown session: %v", err)
		}
		if got, err := st.SessionByToken(ctx, h("alice-0")); err != nil || got.ID != s.ID {
			t.Errorf("SessionByToken: %+v %v", got, err)
		}
		rotate(st, "alice-0", "alice-1", base)
		if got, err := st.SessionByToken(ctx, h("alice-0")); err != nil || got.ID != s.ID {
			t.Errorf("SessionByToken of a used token: %+v %v", got, err)
		}
		if _, err := st.SessionByToken(ctx, h("nope")); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("unknown token: %v", err)
		}
		first, err := st.RevokeSession(ctx, s.ID, server.RevokeLogout, base.Add(time.Minute))
		if err != nil || !first.RevokedAt.Equal(base.Add(time.Minute)) || first.RevokeReason != server.RevokeLogout {
			t.Fatalf("RevokeSession: %+v %v", first, err)
		}
		again, err := st.RevokeSession(ctx, s.ID, server.RevokeReuse, base.Add(2*time.Minute))
		if err != nil || !again.RevokedAt.Equal(first.RevokedAt) || again.RevokeReason != server.RevokeLogout {
			t.Errorf("second revoke changed the first: %+v %v", again, err)
		}
		if _, err := st.RevokeSession(ctx, "nope", server.RevokeLogout, base); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("revoke unknown: %v", err)
		}
	})

	t.Run("rotation rules", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		u, s := withSession(t, st, "alice", time.Hour)
		res, err := rotate(st, "alice-0", "alice-1", base.Add(time.Second))
		if err != nil || res.Replayed || res.Session.ID != s.ID || res.User.ID != u.ID || res.User.Name != "alice" {
			t.Fatalf("fresh rotation: %+v %v", res, err)
		}
		res, err = rotate(st, "alice-0", "alice-1", base.Add(5*time.Second))
		if err != nil || !res.Replayed {
			t.Fatalf("replay within grace: %+v %v", res, err)
		}
		if res, err := rotate(st, "alice-1", "alice-2", base.Add(6*time.Second)); err != nil || res.Replayed {
			t.Fatalf("successor after a replay: %+v %v", res, err)
		}
		// alice-0's child is now used: presenting alice-0 again is reuse, even within grace.
		res, err = rotate(st, "alice-0", "alice-1", base.Add(7*time.Second))
		if !errors.Is(err, server.ErrReuseDetected) || res.Session.ID != s.ID || res.User.Name != "alice" {
			t.Fatalf("grandparent: %+v %v", res, err)
		}
		got, _ := st.Session(ctx, s.ID)
		if got.RevokeReason != server.RevokeReuse || !got.RevokedAt.Equal(base.Add(7*time.Second)) {
			t.Errorf("family after reuse: %+v", got)
		}
		if _, err := rotate(st, "alice-2", "alice-3", base.Add(8*time.Second)); !errors.Is(err, server.ErrSessionRevoked) {
			t.Errorf("the newest token of a revoked family: %v", err)
		}
		if _, err := rotate(st, "nope", "nope-1", base); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("unknown token: %v", err)
		}
	})

	t.Run("reuse after the grace window revokes the family", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		_, s := withSession(t, st, "bob", time.Hour)
		rotate(st, "bob-0", "bob-1", base)
		if _, err := rotate(st, "bob-0", "bob-1", base.Add(11*time.Second)); !errors.Is(err, server.ErrReuseDetected) {
			t.Fatalf("got %v", err)
		}
		if got, _ := st.Session(ctx, s.ID); got.RevokeReason != server.RevokeReuse {
			t.Errorf("not revoked: %+v", got)
		}
	})

	t.Run("an expired family cannot rotate", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		withSession(t, st, "carol", time.Minute)
		if _, err := rotate(st, "carol-0", "carol-1", base.Add(time.Minute)); !errors.Is(err, server.ErrSessionExpired) {
			t.Errorf("got %v", err)
		}
	})

	t.Run("16 concurrent rotations of one token make one successor", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		withSession(t, st, "dave", time.Hour)
		var wg sync.WaitGroup
		var mu sync.Mutex
		fresh, replayed := 0, 0
		var errs []error
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := rotate(st, "dave-0", "dave-1", base.Add(time.Second))
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
			}()
		}
		wg.Wait()
		if fresh != 1 || replayed != 15 || len(errs) != 0 {
			t.Errorf("fresh %d, replayed %d, errors %v", fresh, replayed, errs)
		}
	})

	t.Run("expired sessions are deleted", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		_, short := withSession(t, st, "erin", time.Minute)
		_, long := withSession(t, st, "frank", time.Hour)
		n, err := st.DeleteExpired(ctx, base.Add(2*time.Minute))
		if err != nil || n != 1 {
			t.Fatalf("DeleteExpired: %d %v", n, err)
		}
		if _, err := st.Session(ctx, short.ID); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("expired session kept: %v", err)
		}
		if _, err := st.SessionByToken(ctx, h("erin-0")); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("its tokens kept: %v", err)
		}
		if _, err := st.Session(ctx, long.ID); err != nil {
			t.Errorf("live session deleted: %v", err)
		}
	})

	t.Run("secrets are created once", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		var wg sync.WaitGroup
		got := make([][]byte, 8)
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := st.Secret(ctx, "chain", func() ([]byte, error) { return []byte(fmt.Sprintf("secret-%d", i)), nil })
				if err != nil {
					t.Error(err)
				}
				got[i] = v
			}()
		}
		wg.Wait()
		for i := range got {
			if !bytes.Equal(got[i], got[0]) || len(got[0]) == 0 {
				t.Fatalf("callers saw different secrets: %q vs %q", got[i], got[0])
			}
		}
		v, _ := st.Secret(ctx, "chain", func() ([]byte, error) { return []byte("late"), nil })
		if !bytes.Equal(v, got[0]) {
			t.Errorf("secret replaced: %q", v)
		}
		if _, err := st.Secret(ctx, "other", func() ([]byte, error) { return nil, errors.New("no entropy") }); err == nil {
			t.Error("generate's error lost")
		}
	})

	t.Run("signing keys", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		k1 := server.SigningKey{KID: "k1", Alg: "EdDSA", Private: []byte("pem-1"), CreatedAt: base, Active: true}
		got, err := st.EnsureSigningKey(ctx, k1)
		if err != nil || got.KID != "k1" || !got.Active {
			t.Fatalf("first EnsureSigningKey: %+v %v", got, err)
		}
		k2 := server.SigningKey{KID: "k2", Alg: "EdDSA", Private: []byte("pem-2"), CreatedAt: base.Add(time.Second), Active: true}
		if got, err := st.EnsureSigningKey(ctx, k2); err != nil || got.KID != "k1" || !bytes.Equal(got.Private, []byte("pem-1")) {
			t.Errorf("second EnsureSigningKey replaced the first: %+v %v", got, err)
		}
		hs := server.SigningKey{KID: "h1", Alg: "HS256", Private: []byte("secret"), CreatedAt: base, Active: true}
		if got, err := st.EnsureSigningKey(ctx, hs); err != nil || got.KID != "h1" {
			t.Errorf("another algorithm has its own active key: %+v %v", got, err)
		}
		retire := base.Add(time.Hour)
		if err := st.RotateSigningKey(ctx, k2, retire); err != nil {
			t.Fatal(err)
		}
		keys, err := st.SigningKeys(ctx, base.Add(time.Minute))
		if err != nil || len(keys) != 3 {
			t.Fatalf("SigningKeys: %+v %v", keys, err)
		}
		if keys[0].KID != "k2" || !keys[0].Active {
			t.Errorf("newest first, k2 active: %+v", keys[0])
		}
		for _, k := range keys {
			if k.KID == "k1" && (k.Active || !k.RetireAt.Equal(retire)) {
				t.Errorf("k1 after rotation: %+v", k)
			}
		}
		if keys, _ := st.SigningKeys(ctx, retire.Add(time.Second)); len(keys) != 2 {
			t.Errorf("retired key still listed: %+v", keys)
		}
	})
}
