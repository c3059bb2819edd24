package server_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/authctl/authctl/server"
)

func jwksKIDs(svc *server.Service) []string {
	var kids []string
	for _, k := range svc.JWKS().Keys {
		kids = append(kids, k.Kid)
	}
	slices.Sort(kids)
	return kids
}

// RotateSigningKey knows nothing of the server's access TTL: the serving process itself keeps
// the old key exactly as long as a token it signed can be valid.
func TestRotateSigningKeyNeedsNoAccessTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const ttl = 10 * time.Minute
	f := newFixture(t, func(c *server.Config) { c.PollInterval = 10 * time.Millisecond; c.AccessTTL = ttl })
	oldKID := kidOf(t, f.login(t).AccessToken)
	f.clock.Advance(time.Hour)

	k, err := server.RotateSigningKey(ctx, f.store, "EdDSA", f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { f.svc.Run(runCtx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting until %s (JWKS %v)", what, jwksKIDs(f.svc))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	both := []string{k.KID, oldKID}
	slices.Sort(both)
	waitFor("the new key is published", func() bool { return slices.Equal(jwksKIDs(f.svc), both) })

	// The last token the old key signs, just before the new key takes over.
	last := f.login(t)
	if kid := kidOf(t, last.AccessToken); kid != oldKID {
		t.Fatalf("signed with %s during the publish delay", kid)
	}
	f.clock.Advance(2 * time.Second)
	waitFor("the new key signs", func() bool { return kidOf(t, f.login(t).AccessToken) == k.KID })

	f.clock.Advance(ttl - 3*time.Second) // last has about a second to live
	time.Sleep(50 * time.Millisecond)    // several polls at this time
	if _, err := f.svc.Authenticate(ctx, last.AccessToken); err != nil {
		t.Fatalf("a token signed just before the rotation, verified just before its expiry: %v", err)
	}
	if !slices.Equal(jwksKIDs(f.svc), both) {
		t.Errorf("JWKS %v dropped the old key while its tokens were valid", jwksKIDs(f.svc))
	}

	f.clock.Advance(2 * time.Second)
	if _, err := f.svc.Authenticate(ctx, last.AccessToken); !errors.Is(err, server.ErrTokenExpired) {
		t.Errorf("after its expiry: %v", err)
	}
	f.clock.Advance(2 * time.Minute)
	waitFor("the old key leaves JWKS", func() bool { return slices.Equal(jwksKIDs(f.svc), []string{k.KID}) })
}
