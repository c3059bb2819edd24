package server_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/sqlite"
)

// TestRotateSigningKeyGuard: `keys rotate` refuses a key the servers on the store would
// never sign with, naming how they sign, and rotates when they would.
func TestRotateSigningKeyGuard(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pem, err := server.GenerateSigningKey("EdDSA", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		serve   func(*server.Config) // nil: no server ever started on the store
		rotate  string
		refused string // "" when the rotation goes ahead
	}{
		{"no server recorded how it signs", nil, "RS256", ""},
		{"servers on stored EdDSA keys, EdDSA asked", func(c *server.Config) {}, "EdDSA", ""},
		{"servers on stored EdDSA keys, RS256 asked", func(c *server.Config) {}, "RS256",
			"sign with EdDSA (recorded at their start, "},
		{"servers on stored ES256 keys, the default asked", func(c *server.Config) { c.SigningAlg = "ES256" }, "EdDSA",
			"--signing-alg ES256"},
		{"servers on a key file", func(c *server.Config) { c.SigningKey = pem.Private }, "EdDSA",
			"sign with a key file (--signing-key, EdDSA"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "authctl.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			if c.serve != nil {
				cfg := server.DefaultConfig()
				cfg.Argon2 = cheapArgon2
				c.serve(&cfg)
				if _, err := server.NewService(ctx, cfg, st, nil); err != nil {
					t.Fatal(err)
				}
			}
			before, _ := st.SigningKeys(ctx, time.Now())
			k, err := server.RotateSigningKey(ctx, st, c.rotate, time.Now())
			after, _ := st.SigningKeys(ctx, time.Now())
			var mismatch *server.SigningMismatchError
			switch {
			case c.refused == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.refused == "" && (k.Alg != c.rotate || len(after) != len(before)+1):
				t.Errorf("rotated to %+v; keys %d → %d", k, len(before), len(after))
			case c.refused != "" && (!errors.As(err, &mismatch) || !strings.Contains(err.Error(), c.refused)):
				t.Errorf("error %v; want a SigningMismatchError saying %q", err, c.refused)
			case c.refused != "" && len(after) != len(before):
				t.Errorf("a refused rotation changed the keys: %d → %d", len(before), len(after))
			}
		})
	}
}

// TestServerRecordsHowItSigns: each start records over the last one's, so a server
// restarted without --signing-key lifts the refusal.
func TestServerRecordsHowItSigns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "authctl.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pem, _ := server.GenerateSigningKey("ES256", time.Now())
	for _, key := range [][]byte{pem.Private, nil} {
		cfg := server.DefaultConfig()
		cfg.Argon2, cfg.SigningAlg, cfg.SigningKey = cheapArgon2, "ES256", key
		if _, err := server.NewService(ctx, cfg, st, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := server.RotateSigningKey(ctx, st, "ES256", time.Now()); err != nil {
		t.Errorf("after a restart on stored keys: %v", err)
	}
}
