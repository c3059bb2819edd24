package cli

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/authctl/authctl/server"
)

func TestKeysCommandsAgainstSQLite(t *testing.T) {
	t.Parallel()
	db := newStore(t, filepath.Join(t.TempDir(), "authctl.db"))
	list := func() []keyRow {
		t.Helper()
		r := runCLI(t, nil, "keys", "list", "--json", "--db", db)
		var rows []keyRow
		if err := json.Unmarshal([]byte(r.stdout), &rows); r.code != 0 || err != nil {
			t.Fatalf("keys list: %+v %v", r, err)
		}
		return rows
	}

	first := runCLI(t, nil, "keys", "rotate", "--db", db)
	if !regexp.MustCompile(`^authctl: new EdDSA key \S+ is active\n$`).MatchString(first.stderr) || first.code != 0 {
		t.Fatalf("first rotate: %+v", first)
	}

	// An old script still passes the servers' access token lifetime; it must not decide
	// how long the old key is kept, since the servers' own lifetime may be longer.
	before := time.Now()
	second := runCLI(t, nil, "keys", "rotate", "--access-ttl", "1s", "--db", db)
	if second.code != 0 || !strings.Contains(second.stderr, "; previous keys retire at ") {
		t.Fatalf("second rotate: %+v", second)
	}
	rows := list()
	if len(rows) != 2 {
		t.Fatalf("%d keys, want 2: %+v", len(rows), rows)
	}
	var active, old keyRow
	for _, r := range rows {
		if r.Active {
			active = r
		} else {
			old = r
		}
	}
	if active.KID == "" || old.KID == "" || active.Alg != "EdDSA" || active.RetireAt != nil {
		t.Fatalf("want one active key and one retiring: %+v", rows)
	}
	if old.RetireAt == nil || old.RetireAt.Before(before.Add(server.MaxAccessTTL)) {
		t.Errorf("the old key retires at %v, sooner than the longest access token a server may issue (%s)", old.RetireAt, server.MaxAccessTTL)
	}
	if want := timeText(*old.RetireAt); !strings.Contains(second.stderr, want) {
		t.Errorf("rotate said %q; keys list says the old key retires at %s", second.stderr, want)
	}

	t.Run("--access-ttl is hidden from help", func(t *testing.T) {
		r := runCLI(t, nil, "keys", "rotate", "--help")
		if r.code != 0 || strings.Contains(r.stdout, "access-ttl") || !strings.Contains(r.stdout, "--signing-alg") {
			t.Errorf("%+v", r)
		}
	})
	t.Run("the table lists both keys", func(t *testing.T) {
		r := runCLI(t, nil, "keys", "list", "--db", db)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "KID") || !strings.Contains(r.stdout, active.KID) || !strings.Contains(r.stdout, old.KID) {
			t.Errorf("%+v", r)
		}
	})
}
