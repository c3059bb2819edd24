package server_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authctl/authctl/internal/testkit"
	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/sqlite"
)

// cheapArgon2 keeps tests fast; the production parameters are tested in password_test.go.
var cheapArgon2 = server.Argon2Params{Memory: 64, Time: 1, Threads: 1}

type fixture struct {
	svc   *server.Service
	store server.Store
	clock *testkit.Clock
	path  string
}

func newFixture(t *testing.T, mutate func(*server.Config)) *fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "authctl.db")
	return openFixture(t, path, testkit.NewClock(time.Now().Truncate(time.Millisecond)), mutate)
}

func openFixture(t *testing.T, path string, clk *testkit.Clock, mutate func(*server.Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := server.DefaultConfig()
	cfg.Argon2 = cheapArgon2
	cfg.Now = clk.Now
	if mutate != nil {
		mutate(&cfg)
	}
	svc, err := server.NewService(ctx, cfg, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.AddUser(ctx, st, svc.Hasher(), "alice", "user", "correct horse", clk.Now()); err != nil && !errors.Is(err, server.ErrUserExists) {
		t.Fatal(err)
	}
	return &fixture{svc: svc, store: st, clock: clk, path: path}
}

func (f *fixture) login(t *testing.T) server.Tokens {
	t.Helper()
	tok, err := f.svc.Login(context.Background(), "alice", "correct horse", "127.0.0.1")
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	return tok
}

func TestLogin(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()

	t.Run("the right password yields tokens whose claims name the user", func(t *testing.T) {
		tok := f.login(t)
		if tok.ExpiresIn != 300 || tok.RefreshExpiresIn != 720*3600 {
			t.Errorf("expires_in %d, refresh_expires_in %d", tok.ExpiresIn, tok.RefreshExpiresIn)
		}
		c, err := f.svc.Authenticate(ctx, tok.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if c.Name != "alice" || c.Role != "user" || c.SID == "" || c.ClientID != "authctl" || c.ID == "" {
			t.Errorf("claims %+v", c)
		}
	})
	t.Run("a wrong password and an unknown user get the same error", func(t *testing.T) {
		_, err1 := f.svc.Login(ctx, "alice", "wrong password", "10.0.0.1")
		_, err2 := f.svc.Login(ctx, "nobody", "wrong password", "10.0.0.2")
		if !errors.Is(err1, server.ErrInvalidCredentials) || !errors.Is(err2, server.ErrInvalidCredentials) || err1.Error() != err2.Error() {
			t.Errorf("errors differ: %v / %v", err1, err2)
		}
	})
	t.Run("oversized credentials are refused without reaching the limiter", func(t *testing.T) {
		long := strings.Repeat("u", 300)
		if _, err := f.svc.Login(ctx, long, "x", "10.2.0.1"); !errors.Is(err, server.ErrInvalidCredentials) {
			t.Errorf("long username: %v", err)
		}
		if _, err := f.svc.Login(ctx, "alice", strings.Repeat("p", 2000), "10.2.0.1"); !errors.Is(err, server.ErrInvalidCredentials) {
			t.Errorf("long password: %v", err)
		}
	})
	t.Run("repeated failures for one user are rate-limited", func(t *testing.T) {
		var rl *server.RateLimitError
		for i := 0; i < 20; i++ {
			_, err := f.svc.Login(ctx, "bob", "wrong password", "10.1.0.1")
			if errors.As(err, &rl) {
				break
			}
		}
		if rl == nil || rl.RetryAfter < time.Second {
			t.Fatalf("never rate-limited (%v)", rl)
		}
	})
}

func TestRefreshRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("each refresh rotates the token and keeps the session", func(t *testing.T) {
		f := newFixture(t, nil)
		t0 := f.login(t)
		t1, err := f.svc.Refresh(ctx, t0.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if t1.RefreshToken == t0.RefreshToken {
			t.Fatal("refresh token not rotated")
		}
		c0, _ := f.svc.Authenticate(ctx, t0.AccessToken)
		c1, err := f.svc.Authenticate(ctx, t1.AccessToken)
		if err != nil || c0.SID != c1.SID {
			t.Fatalf("sid changed or token invalid: %v", err)
		}
		if _, err := f.svc.Refresh(ctx, t1.RefreshToken); err != nil {
			t.Fatalf("second rotation: %v", err)
		}
	})
	t.Run("the previous token within the grace window answers with the same successor", func(t *testing.T) {
		f := newFixture(t, nil)
		t0 := f.login(t)
		t1, _ := f.svc.Refresh(ctx, t0.RefreshToken)
		f.clock.Advance(5 * time.Second)
		again, err := f.svc.Refresh(ctx, t0.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if again.RefreshToken != t1.RefreshToken {
			t.Error("grace replay minted a new sibling instead of the same successor")
		}
		if again.AccessToken == t1.AccessToken {
			t.Error("grace replay did not mint a fresh access token")
		}
		if _, err := f.svc.Refresh(ctx, t1.RefreshToken); err != nil {
			t.Fatalf("successor unusable after replay: %v", err)
		}
	})
	t.Run("reuse after the grace window revokes the whole family", func(t *testing.T) {
		f := newFixture(t, nil)
		t0 := f.login(t)
		t1, _ := f.svc.Refresh(ctx, t0.RefreshToken)
		f.clock.Advance(11 * time.Second)
		if _, err := f.svc.Refresh(ctx, t0.RefreshToken); !errors.Is(err, server.ErrInvalidGrant) {
			t.Fatalf("reuse answered %v", err)
		}
		if _, err := f.svc.Refresh(ctx, t1.RefreshToken); !errors.Is(err, server.ErrInvalidGrant) {
			t.Errorf("the legitimate holder's successor survived: %v", err)
		}
		if _, err := f.svc.Authenticate(ctx, t1.AccessToken); !errors.Is(err, server.ErrInvalidToken) {
			t.Errorf("access token of the revoked family still accepted: %v", err)
		}
	})
	t.Run("a grandparent token is reuse even within the grace window", func(t *testing.T) {
		f := newFixture(t, nil)
		t0 := f.login(t)
		t1, _ := f.svc.Refresh(ctx, t0.RefreshToken)
		if _, err := f.svc.Refresh(ctx, t1.RefreshToken); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Refresh(ctx, t0.RefreshToken); !errors.Is(err, server.ErrInvalidGrant) {
			t.Fatalf("grandparent answered %v", err)
		}
	})
	t.Run("16 concurrent refreshes of one token yield one successor", func(t *testing.T) {
		f := newFixture(t, nil)
		t0 := f.login(t)
		var wg sync.WaitGroup
		got := make([]string, 16)
		errs := make([]error, 16)
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tok, err := f.svc.Refresh(ctx, t0.RefreshToken)
				got[i], errs[i] = tok.RefreshToken, err
			}()
		}
		wg.Wait()
		for i := range got {
			if errs[i] != nil {
				t.Fatalf("refresh %d: %v", i, errs[i])
			}
			if got[i] != got[0] {
				t.Fatalf("two different successors: %q and %q", got[0], got[i])
			}
		}
	})
	t.Run("the family dies at its absolute lifetime", func(t *testing.T) {
		f := newFixture(t, func(c *server.Config) { c.RefreshTTL = time.Hour })
		t0 := f.login(t)
		f.clock.Advance(30 * time.Minute)
		t1, err := f.svc.Refresh(ctx, t0.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if t1.RefreshExpiresIn > 1800 {
			t.Errorf("refresh_expires_in %d extends the family", t1.RefreshExpiresIn)
		}
		f.clock.Advance(31 * time.Minute)
		if _, err := f.svc.Refresh(ctx, t1.RefreshToken); !errors.Is(err, server.ErrInvalidGrant) {
			t.Errorf("expired family answered %v", err)
		}
	})
	t.Run("malformed and unknown tokens are invalid grants", func(t *testing.T) {
		f := newFixture(t, nil)
		for _, tok := range []string{"", "short", "has spaces in it........", string(make([]byte, 600)), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
			if _, err := f.svc.Refresh(ctx, tok); !errors.Is(err, server.ErrInvalidGrant) {
				t.Errorf("Refresh(%q) = %v", tok, err)
			}
		}
	})
}

func TestRevocation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("logout refuses the live access token at once", func(t *testing.T) {
		f := newFixture(t, nil)
		tok := f.login(t)
		if err := f.svc.Logout(ctx, tok.RefreshToken); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Authenticate(ctx, tok.AccessToken); !errors.Is(err, server.ErrInvalidToken) {
			t.Errorf("access token after logout: %v", err)
		}
		if _, err := f.svc.Refresh(ctx, tok.RefreshToken); !errors.Is(err, server.ErrInvalidGrant) {
			t.Errorf("refresh after logout: %v", err)
		}
	})
	t.Run("a full revocation set fails closed", func(t *testing.T) {
		f := newFixture(t, nil)
		server.SetRevocationCap(f.svc, 4)
		first := f.login(t)
		for i := range 12 { // far more logouts than the set holds
			tok := first
			if i > 0 {
				tok = f.login(t)
			}
			if err := f.svc.Logout(ctx, tok.RefreshToken); err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(time.Second)
		}
		if _, err := f.svc.Authenticate(ctx, first.AccessToken); !errors.Is(err, server.ErrInvalidToken) {
			t.Errorf("the first logged-out session's access token, forgotten by the full set: %v", err)
		}
		f.clock.Advance(time.Second)
		live := f.login(t) // issued after every forgotten revocation
		if _, err := f.svc.Authenticate(ctx, live.AccessToken); err != nil {
			t.Errorf("a session opened after the set overflowed: %v", err)
		}
	})
	t.Run("logout with an unknown token is an invalid grant", func(t *testing.T) {
		f := newFixture(t, nil)
		if err := f.svc.Logout(ctx, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); !errors.Is(err, server.ErrInvalidGrant) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("a revocation written by another process is seen after a poll", func(t *testing.T) {
		f := newFixture(t, func(c *server.Config) { c.PollInterval = 20 * time.Millisecond })
		tok := f.login(t)
		runCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		go f.svc.Run(runCtx)

		other, err := sqlite.Open(ctx, f.path)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		if err := server.DeleteUser(ctx, other, "alice", f.clock.Now()); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, err := f.svc.Authenticate(ctx, tok.AccessToken)
			if errors.Is(err, server.ErrInvalidToken) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("access token still accepted 5s after the user was deleted: %v", err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	t.Run("a password change ends the user's sessions", func(t *testing.T) {
		f := newFixture(t, nil)
		tok := f.login(t)
		if err := server.ChangePassword(ctx, f.store, f.svc.Hasher(), "alice", "new password!", f.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Refresh(ctx, tok.RefreshToken); !errors.Is(err, server.ErrInvalidGrant) {
			t.Errorf("refresh after password change: %v", err)
		}
	})
}

func TestRefreshClassic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, func(c *server.Config) { c.AccessTTL = time.Minute })
	if _, err := server.AddUser(ctx, f.store, f.svc.Hasher(), "mallory", "user", "mallory password", f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	alice := f.login(t)
	mallory, err := f.svc.Login(ctx, "mallory", "mallory password", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * time.Minute)
	if _, err := f.svc.Authenticate(ctx, alice.AccessToken); !errors.Is(err, server.ErrTokenExpired) {
		t.Fatalf("expected expiry, got %v", err)
	}

	t.Run("another user's access token is refused", func(t *testing.T) {
		if _, err := f.svc.RefreshClassic(ctx, mallory.AccessToken, alice.RefreshToken); !errors.Is(err, server.ErrInvalidGrant) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("a forged access token is refused", func(t *testing.T) {
		if _, err := f.svc.RefreshClassic(ctx, alice.AccessToken+"x", alice.RefreshToken); !errors.Is(err, server.ErrInvalidGrant) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("the user's own expired access token is accepted", func(t *testing.T) {
		tok, err := f.svc.RefreshClassic(ctx, alice.AccessToken, alice.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Authenticate(ctx, tok.AccessToken); err != nil {
			t.Errorf("new access token: %v", err)
		}
	})
}

func TestKeysPersist(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, alg := range []string{"EdDSA", "ES256", "RS256", "HS256"} {
		t.Run(alg+" keys survive a restart", func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "authctl.db")
			clk := testkit.NewClock(time.Now())
			cfg := func(c *server.Config) { c.SigningAlg = alg }
			f1 := openFixture(t, path, clk, cfg)
			tok := f1.login(t)
			f1.store.Close()
			f2 := openFixture(t, path, clk, cfg)
			if _, err := f2.svc.Authenticate(ctx, tok.AccessToken); err != nil {
				t.Errorf("token from before the restart: %v", err)
			}
			if _, err := f2.svc.Refresh(ctx, tok.RefreshToken); err != nil {
				t.Errorf("refresh after restart: %v", err)
			}
			if n := len(f2.svc.JWKS().Keys); (alg == "HS256") != (n == 0) {
				t.Errorf("JWKS has %d keys", n)
			}
		})
	}
}

func kidOf(t *testing.T, tok string) string {
	t.Helper()
	p, _, err := jwt.NewParser().ParseUnverified(tok, &jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := p.Header["kid"].(string)
	return kid
}

func TestKeyRotationPublishesBeforeSigning(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, func(c *server.Config) { c.PollInterval = 10 * time.Millisecond })
	old := f.login(t)
	f.clock.Advance(time.Minute) // the first key has been in use for a while
	k, err := server.GenerateSigningKey("EdDSA", f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.RotateSigningKey(ctx, k, f.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go f.svc.Run(runCtx)

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting until %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("the new key is published", func() bool { return len(f.svc.JWKS().Keys) == 2 })
	if kid := kidOf(t, f.login(t).AccessToken); kid != kidOf(t, old.AccessToken) {
		t.Fatalf("signed with the new key %s before other replicas could load it", kid)
	}
	f.clock.Advance(2 * time.Second)
	waitFor("the new key signs", func() bool { return kidOf(t, f.login(t).AccessToken) == k.KID })
	if _, err := f.svc.Authenticate(ctx, old.AccessToken); err != nil {
		t.Errorf("a token of the old key: %v", err)
	}
}
