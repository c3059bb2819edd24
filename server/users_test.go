package server_test

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/sqlite"
)

func TestEnsureAdmin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	open := func(t *testing.T) (server.Store, *server.PasswordHasher) {
		st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "authctl.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st, server.NewPasswordHasher(cheapArgon2, 1)
	}
	canLogIn := func(t *testing.T, st server.Store, h *server.PasswordHasher, pw string) {
		t.Helper()
		u, err := st.UserByName(ctx, "admin")
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := h.Verify(ctx, u.PasswordHash, pw); !ok || err != nil || u.Role != "admin" {
			t.Errorf("admin (role %s) does not have the password: %v", u.Role, err)
		}
	}

	t.Run("the password passed in is the admin's, and is never printed", func(t *testing.T) {
		t.Parallel()
		st, h := open(t)
		var stderr bytes.Buffer
		if err := server.EnsureAdmin(ctx, st, h, "chosen password", &stderr, time.Now()); err != nil {
			t.Fatal(err)
		}
		canLogIn(t, st, h, "chosen password")
		if strings.Contains(stderr.String(), "chosen password") {
			t.Errorf("stderr shows the password: %q", stderr.String())
		}
	})
	t.Run("no password: a random one is printed once", func(t *testing.T) {
		t.Parallel()
		st, h := open(t)
		var stderr bytes.Buffer
		if err := server.EnsureAdmin(ctx, st, h, "", &stderr, time.Now()); err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`created user admin with password ([A-Za-z0-9_-]{24}) `).FindStringSubmatch(stderr.String())
		if m == nil {
			t.Fatalf("no generated password in %q", stderr.String())
		}
		canLogIn(t, st, h, m[1])
		stderr.Reset()
		if err := server.EnsureAdmin(ctx, st, h, "", &stderr, time.Now()); err != nil || stderr.Len() != 0 {
			t.Errorf("second start: %v, %q", err, stderr.String())
		}
		canLogIn(t, st, h, m[1])
	})
}
