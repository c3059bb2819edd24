package server

import (
	"regexp"
	"strings"
	"testing"
)

// FuzzTokenText: what the adapters and the refresh flow let through to a store is exactly
// unpadded base64url of the allowed length, and every id and token a login makes passes.
func FuzzTokenText(f *testing.F) {
	for _, seed := range []string{"", "abc", "AZaz09-_", "a=", "a b", "é", "a/b", "a+b", strings.Repeat("x", 64), strings.Repeat("x", 65), strings.Repeat("y", 513)} {
		f.Add(seed)
	}
	sessionID := regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	refresh := regexp.MustCompile(`^[A-Za-z0-9_-]{16,512}$`)
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := PlausibleSessionID(s), sessionID.MatchString(s); got != want {
			t.Fatalf("PlausibleSessionID(%q) = %v, want %v", s, got, want)
		}
		if got, want := wellFormedRefresh(s), refresh.MatchString(s); got != want {
			t.Fatalf("wellFormedRefresh(%q) = %v, want %v", s, got, want)
		}
	})
}

func TestMadeTokensAreWellFormed(t *testing.T) {
	t.Parallel()
	for range 100 {
		sid, err := randomToken(16) // as a login makes a session id
		if err != nil || !PlausibleSessionID(sid) {
			t.Fatalf("session id %q (%v) is not plausible", sid, err)
		}
		rt, err := randomToken(refreshTokenBytes)
		if err != nil || !wellFormedRefresh(rt) {
			t.Fatalf("refresh token %q (%v) is not well formed", rt, err)
		}
	}
}
