package server

import (
	"strings"
	"testing"
)

// FuzzCleanUserAgent: whatever a client sends as User-Agent, what is stored (and later shown
// in terminals and JSON) is printable ASCII, at most maxUserAgent bytes, and made only of
// what was sent, in order.
func FuzzCleanUserAgent(f *testing.F) {
	for _, seed := range []string{"", "authctl/1.0 (linux)", "Mozilla/5.0 \u202eevil", "a\x1b[31mred\x07", strings.Repeat("x", 300), "\xff\xfe"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, ua string) {
		got := cleanUserAgent(ua)
		if len(got) > maxUserAgent {
			t.Fatalf("%d bytes kept, at most %d", len(got), maxUserAgent)
		}
		rest := ua
		for i := 0; i < len(got); i++ {
			c := got[i]
			if c < 0x20 || c >= 0x7f {
				t.Fatalf("kept byte %#x of %q", c, ua)
			}
			j := strings.IndexByte(rest, c)
			if j < 0 {
				t.Fatalf("%q is not drawn from %q in order", got, ua)
			}
			rest = rest[j+1:]
		}
		if len(ua) <= maxUserAgent && strings.IndexFunc(ua, func(r rune) bool { return r < 0x20 || r >= 0x7f }) < 0 && got != ua {
			t.Fatalf("a plain User-Agent %q was changed to %q", ua, got)
		}
	})
}
