package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestStoreDescriptionHidesPasswords(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ db, kind, want string }{
		{"postgres://authctl:s3cret@db.internal:5432/authctl?sslmode=verify-full", "postgres", "postgres://authctl@db.internal:5432/authctl?sslmode=verify-full"},
		{"postgresql://u@h/db?password=s3cret&sslmode=disable", "postgres", "postgresql://u@h/db?sslmode=disable"},
		{"postgres://h/db", "postgres", "postgres://h/db"},
		{"postgres://u:s3cret@h/db%zz", "postgres", "(unparsable URL)"},
		{"/var/lib/authctl/authctl.db", "sqlite", "/var/lib/authctl/authctl.db"},
	} {
		kind, where := storeDescription(func(string) string { return "" }, c.db)
		if kind != c.kind || where != c.want || strings.Contains(where, "s3cret") {
			t.Errorf("%s: %s %s, want %s %s", c.db, kind, where, c.kind, c.want)
		}
	}
}

func TestDurationsAreFloatMilliseconds(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	newServeLogger(&buf, "json", false).Info("x", "duration", 1500*time.Microsecond, "retry_after", 2*time.Second, "count", 3)
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if line["duration_ms"] != 1.5 || line["retry_after_ms"] != float64(2000) || line["count"] != float64(3) {
		t.Errorf("%s", buf.Bytes())
	}
	if _, ok := line["duration"]; ok {
		t.Errorf("nanoseconds kept: %s", buf.Bytes())
	}
	buf.Reset()
	newServeLogger(&buf, "text", false).Info("x", "duration", 1500*time.Microsecond)
	if !strings.Contains(buf.String(), " duration_ms=1.5") {
		t.Errorf("text: %s", buf.String())
	}
}
