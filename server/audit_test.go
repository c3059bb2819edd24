package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authctl/authctl/internal/testkit"
	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/sqlite"
)

// jsonLines collects a JSON log and parses it line by line.
type jsonLines struct{ testkit.Buffer }

// events returns the log lines whose event field is one of the audit actions.
func (j *jsonLines) audit(t *testing.T) []map[string]any {
	t.Helper()
	text := j.String()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		if m["msg"] == "admin change" {
			out = append(out, m)
		}
	}
	return out
}

// waitAudit waits until the log holds n audit lines, then a few polls more, so that a
// line logged twice would show.
func (j *jsonLines) waitAudit(t *testing.T, n int, poll time.Duration) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(j.audit(t)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d audit lines after 10s, want %d: %v", len(j.audit(t)), n, j.audit(t))
		}
		time.Sleep(poll / 2)
	}
	time.Sleep(4 * poll)
	return j.audit(t)
}

func TestServiceLogsAuditEventsOfOtherProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "authctl.db")
	serving, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { serving.Close() })
	// The CLI is another process with its own handle on the file.
	cli, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	root := server.Actor{Name: "root", Via: server.ViaCLI, Addr: "db1"}
	asRoot := server.WithActor(ctx, root)
	h := server.NewPasswordHasher(cheapArgon2, 0)
	if _, err := server.AddUser(asRoot, cli, h, "before", "user", "password before", time.Now()); err != nil {
		t.Fatal(err)
	}

	logs := &jsonLines{}
	cfg := server.DefaultConfig()
	cfg.Argon2 = cheapArgon2
	cfg.PollInterval = 20 * time.Millisecond
	svc, err := server.NewService(ctx, cfg, serving, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })

	t.Run("each change is logged once, with its actor and event; none from before the start", func(t *testing.T) {
		if _, err := server.AddUser(asRoot, cli, h, "alice", "ops", "alice's password", time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := server.ChangePassword(asRoot, cli, h, "alice", "alice's new password", time.Now()); err != nil {
			t.Fatal(err)
		}
		// Without an actor nothing is audited: the server's own first-start admin, tests.
		if _, err := server.AddUser(ctx, cli, h, "quiet", "user", "quiet password", time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := server.DeleteUser(asRoot, cli, "alice", time.Now()); err != nil {
			t.Fatal(err)
		}
		lines := logs.waitAudit(t, 3, cfg.PollInterval)
		want := []struct{ event, level string }{
			{server.AuditUserAdded, "INFO"},
			{server.AuditPasswordChanged, "WARN"},
			{server.AuditUserDeleted, "WARN"},
		}
		if len(lines) != len(want) {
			t.Fatalf("%d audit lines, want %d: %v", len(lines), len(want), lines)
		}
		for i, l := range lines {
			if l["event"] != want[i].event || l["level"] != want[i].level || l["actor"] != "root" || l["via"] != "cli" ||
				l["addr"] != "db1" || l["user"] != "alice" || l["audit_id"] == nil {
				t.Errorf("line %d = %v, want event %s at %s", i, l, want[i].event, want[i].level)
			}
		}
		text := logs.String()
		if strings.Contains(text, "alice's") || strings.Contains(text, "$argon2id$") {
			t.Error("a password or its hash reached the log")
		}
	})

	t.Run("a burst longer than a page is logged whole, once", func(t *testing.T) {
		const n = 1200 // more than two pages of AuditSince
		start := time.Now()
		for i := range n {
			if _, err := cli.CreateUser(asRoot, fmt.Sprintf("burst%04d", i), "user", "h", start); err != nil {
				t.Fatal(err)
			}
		}
		lines := logs.waitAudit(t, 3+n, cfg.PollInterval)
		seen := map[string]int{}
		for _, l := range lines[3:] {
			seen[l["user"].(string)]++
		}
		if len(lines) != 3+n || len(seen) != n {
			t.Fatalf("%d lines for %d distinct users, want %d each once", len(lines)-3, len(seen), n)
		}
	})
}
