package server

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// noFeed is a store with no revocations of its own; these tests mark sessions directly.
type noFeed struct{}

func (noFeed) RevokedSince(context.Context, time.Time) ([]Revocation, error) { return nil, nil }

func TestRevocationSetIsBounded(t *testing.T) {
	t.Parallel()
	const ttl = 5 * time.Minute
	newSet := func(max int, now *time.Time) *revocationSet {
		r := newRevocationSet(noFeed{}, ttl, func() time.Time { return *now })
		r.max = max
		return r
	}

	t.Run("the default bound is set", func(t *testing.T) {
		t.Parallel()
		if r := newRevocationSet(noFeed{}, ttl, time.Now); r.max != maxRevocations || r.max < 10_000 {
			t.Errorf("max %d", r.max)
		}
	})
	t.Run("a full set keeps the newest revocations", func(t *testing.T) {
		t.Parallel()
		now := testNow
		r := newSet(160, &now)
		for i := range 1000 {
			r.mark(fmt.Sprint("sid", i), now)
			now = now.Add(time.Millisecond)
			if n := len(r.until); n > 160 {
				t.Fatalf("%d sessions held after %d marks; bound 160", n, i+1)
			}
		}
		for i := 1000 - 150; i < 1000; i++ {
			if !r.revoked(fmt.Sprint("sid", i)) {
				t.Fatalf("recent revocation sid%d was dropped", i)
			}
		}
		if r.revoked("sid0") {
			t.Error("the oldest revocation was kept over newer ones")
		}
		if r.dropped < 1000-160 {
			t.Errorf("dropped counts %d", r.dropped)
		}
	})
	t.Run("aged-out sessions make room before live ones are dropped", func(t *testing.T) {
		t.Parallel()
		now := testNow
		r := newSet(100, &now)
		for i := range 100 {
			r.mark(fmt.Sprint("old", i), now)
		}
		now = now.Add(ttl + 2*time.Minute) // every one of them can be forgotten now
		for i := range 100 {
			r.mark(fmt.Sprint("new", i), now)
		}
		for i := range 100 {
			if !r.revoked(fmt.Sprint("new", i)) {
				t.Fatalf("new%d dropped", i)
			}
		}
		if r.dropped != 0 {
			t.Errorf("%d live revocations dropped; only aged-out ones had to go", r.dropped)
		}
	})
	t.Run("a newcomer that would be forgotten first is the one not kept", func(t *testing.T) {
		t.Parallel()
		now := testNow
		r := newSet(16, &now)
		for i := range 16 {
			// Revoked by a replica whose clock is ahead: remembered past what a mark now gets.
			r.mark(fmt.Sprint("sid", i), now.Add(10*time.Second))
		}
		r.mark("newcomer", now)
		if r.revoked("newcomer") || r.dropped != 1 {
			t.Errorf("newcomer kept %v, dropped %d", r.revoked("newcomer"), r.dropped)
		}
		for i := range 16 {
			if !r.revoked(fmt.Sprint("sid", i)) {
				t.Errorf("sid%d dropped for a revocation that would be forgotten sooner", i)
			}
		}
	})
	t.Run("marking a session again does not count against the bound", func(t *testing.T) {
		t.Parallel()
		now := testNow
		r := newSet(4, &now)
		for i := range 4 {
			r.mark(fmt.Sprint("sid", i), now)
		}
		for range 100 {
			r.mark("sid3", now)
		}
		if r.dropped != 0 || len(r.until) != 4 {
			t.Errorf("dropped %d, held %d", r.dropped, len(r.until))
		}
	})
	t.Run("a full set fails closed: tokens a forgotten session may hold are refused", func(t *testing.T) {
		t.Parallel()
		now := testNow
		r := newSet(16, &now)
		issued := func(at time.Time) time.Time { return at.Truncate(time.Second) } // iat has whole seconds
		early := issued(now)                                                       // a token of sid0, minted before its logout
		for i := range 64 {
			r.mark(fmt.Sprint("sid", i), now)
			now = now.Add(100 * time.Millisecond)
		}
		if r.revoked("sid0") || r.dropped == 0 {
			t.Fatalf("the set did not have to forget sid0 (dropped %d)", r.dropped)
		}
		if !r.refuses("sid0", early) {
			t.Error("a token of a revoked session the full set forgot passes")
		}
		if !r.refuses("other", early) {
			t.Error("a token issued as early as the forgotten revocation passes: it could be that session's")
		}
		now = now.Add(2 * time.Second)
		if r.refuses("other", issued(now)) {
			t.Error("a token issued after every forgotten revocation is refused")
		}
		now = now.Add(ttl + 2*time.Minute) // every token issued before the forgotten revocations has expired
		r.forget(now)
		if r.refuses("other", time.Time{}) {
			t.Error("the floor outlived the tokens it guards against")
		}
	})
}
