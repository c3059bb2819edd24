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

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := server.DefaultConfig().Validate(); err != nil {
		t.Fatalf("the defaults are invalid: %v", err)
	}
	for _, c := range []struct {
		name  string
		edit  func(*server.Config)
		wants string
	}{
		{"an empty issuer", func(c *server.Config) { c.Issuer = "" }, "issuer"},
		{"an empty audience", func(c *server.Config) { c.Audience = "" }, "audience"},
		{"a zero access TTL", func(c *server.Config) { c.AccessTTL = 0 }, "access TTL"},
		{"a sub-second access TTL", func(c *server.Config) { c.AccessTTL = 500 * time.Millisecond }, "access TTL"},
		{"an access TTL over the bound keys rotate relies on", func(c *server.Config) { c.AccessTTL = server.MaxAccessTTL + time.Second }, "at most 24h"},
		{"a zero refresh TTL", func(c *server.Config) { c.RefreshTTL = 0 }, "refresh TTL"},
		{"a negative reuse grace", func(c *server.Config) { c.ReuseGrace = -time.Second }, "reuse grace"},
		{"the none algorithm", func(c *server.Config) { c.SigningAlg = "none" }, "signing algorithm"},
		{"a lower-case algorithm", func(c *server.Config) { c.SigningAlg = "eddsa" }, "signing algorithm"},
		{"an empty signing key file", func(c *server.Config) { c.SigningKey = []byte{} }, "signing key"},
		{"an empty client id", func(c *server.Config) { c.ClientID = "" }, "client id"},
		{"zero argon2 parameters", func(c *server.Config) { c.Argon2 = server.Argon2Params{} }, "argon2"},
		{"zero login limits", func(c *server.Config) { c.Limits = server.LimitConfig{} }, "login limit"},
		{"no token cache", func(c *server.Config) { c.TokenCacheSize = 0 }, "token cache"},
		{"no poll interval", func(c *server.Config) { c.PollInterval = 0 }, "poll interval"},
		{"a poll interval too slow for revocations", func(c *server.Config) { c.PollInterval = time.Hour }, "poll interval"},
		{"no clock", func(c *server.Config) { c.Now = nil }, "clock"},
	} {
		t.Run(c.name+" is refused", func(t *testing.T) {
			t.Parallel()
			cfg := server.DefaultConfig()
			c.edit(&cfg)
			err := cfg.Validate()
			if !errors.Is(err, server.ErrInvalidConfig) || !strings.Contains(err.Error(), c.wants) {
				t.Errorf("got %v, want ErrInvalidConfig naming %q", err, c.wants)
			}
		})
	}
	t.Run("every problem is reported at once", func(t *testing.T) {
		t.Parallel()
		err := server.Config{}.Validate()
		for _, want := range []string{"issuer", "audience", "access TTL", "signing algorithm", "clock"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%v does not mention %s", err, want)
			}
		}
	})
}

func TestNewServiceRefusesAnInvalidConfig(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "authctl.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// A partial Config used to be completed silently; now it is an error, and nothing is
	// written to the store first.
	if _, err := server.NewService(ctx, server.Config{AccessTTL: time.Minute}, st, nil); !errors.Is(err, server.ErrInvalidConfig) {
		t.Fatalf("got %v", err)
	}
	if keys, err := st.SigningKeys(ctx, time.Now()); err != nil || len(keys) != 0 {
		t.Errorf("an invalid config still created keys: %d, %v", len(keys), err)
	}
}
