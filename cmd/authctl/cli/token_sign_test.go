package cli

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func TestParseWhen(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Time
	}{
		{"5m", now.Add(5 * time.Minute)},
		{"-1h", now.Add(-time.Hour)},
		{"90s", now.Add(90 * time.Second)},
		{"7d", now.Add(7 * 24 * time.Hour)},
		{"0", now},
		{"2027-01-02T03:04:05Z", time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)},
		{"2027-01-02T03:04:05+01:00", time.Date(2027, 1, 2, 2, 4, 5, 0, time.UTC)},
		{"1800000000", time.Unix(1800000000, 0)},
	} {
		got, err := parseWhen(c.in, now)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("parseWhen(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "soon", "5 minutes", "2027-01-02", "-5", "1e9", "99999999999999999999d"} {
		if got, err := parseWhen(bad, now); err == nil {
			t.Errorf("parseWhen(%q) = %v, want an error", bad, got)
		}
	}
}

func TestClaimValue(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want any
	}{
		{"ops", "ops"},
		{"5", json.Number("5")},
		{"9007199254740993", json.Number("9007199254740993")},
		{"01234", "01234"}, // not JSON: a leading zero
		{`"5"`, "5"},
		{"true", true},
		{"null", nil},
		{`["a","b"]`, []any{"a", "b"}},
		{`{"k":1}`, map[string]any{"k": json.Number("1")}},
		{"1 2", "1 2"},
		{"", ""},
		{"a=b", "a=b"},
	} {
		if got := claimValue(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("claimValue(%q) = %#v, want %#v", c.in, got, c.want)
		}
	}
}
