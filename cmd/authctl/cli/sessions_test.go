package cli

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestPickSession(t *testing.T) {
	t.Parallel()
	rows := []sessionRow{{ID: "Wq0tQ8v2aaaaaaaaaaaaaa"}, {ID: "Wq0tZZZZbbbbbbbbbbbbbb"}, {ID: "Xyz0cccccccccccccccccc"}}
	for _, tc := range []struct {
		name, id, want, err string
	}{
		{"a whole id is taken as it is", "Xyz0cccccccccccccccccc", "Xyz0cccccccccccccccccc", ""},
		{"a unique start names its session", "Wq0tQ", "Wq0tQ8v2aaaaaaaaaaaaaa", ""},
		{"a start shared by two is refused", "Wq0t", "", "starts 2 session ids"},
		{"a start shorter than four is no start", "Xyz", "Xyz", ""},
		{"an id not listed goes to the server as it is", "Nope000000000000000000", "Nope000000000000000000", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pickSession(rows, tc.id)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || ExitCode(err) != 2 {
					t.Fatalf("pickSession(%q) = %v, %v; want a usage error %q", tc.id, got, err, tc.err)
				}
				return
			}
			if err != nil || got.ID != tc.want {
				t.Fatalf("pickSession(%q) = %q, %v; want %q", tc.id, got.ID, err, tc.want)
			}
		})
	}
}

func TestPrintSessions(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	refreshed, revoked := now.Add(-3*time.Minute), now.Add(-time.Hour)
	rows := []sessionRow{
		{ID: "cur", Current: true, CreatedAt: now.Add(-2 * time.Hour), LastRefreshedAt: &refreshed, ExpiresAt: now.Add(29 * 24 * time.Hour),
			ClientAddr: "192.0.2.1", UserAgent: "authctl/1.0 " + strings.Repeat("x", 40)},
		{ID: "old", CreatedAt: now.Add(-5 * time.Hour), ExpiresAt: now.Add(time.Hour), RevokedAt: &revoked, RevokeReason: "logout"},
	}
	ios, _, stdout, _ := Test()
	if err := sessionsTable(&OutputOptions{IO: ios, Now: func() time.Time { return now }}, rows); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines:\n%s", len(lines), stdout)
	}
	for i, want := range []string{
		`^ID +CREATED +REFRESHED +EXPIRES +ADDRESS +CLIENT +STATUS$`,
		`^cur +2h0m ago +3m0s ago +in 29d +192\.0\.2\.1 +authctl/1\.0 x{19}… +current$`,
		`^old +5h0m ago +never +in 1h0m +- +- +revoked \(logout\)$`,
	} {
		if !regexp.MustCompile(want).MatchString(lines[i]) {
			t.Errorf("line %d = %q, want %s", i, lines[i], want)
		}
	}
}
