package httpapi

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authctl/authctl/server"
)

var generatedID = regexp.MustCompile(`^[0-9a-f]{16}$`)

func TestRequestID(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, c := range []struct {
		name, sent string
		kept       bool
	}{
		{"a UUID is honoured", "0b6f7a52-3c1e-4f6e-9d3a-2a1c5e8b7f00", true},
		{"a trace id with = and / is honoured", "Root=1-67891233-abcdef012345678912345678/x", true},
		{"none is replaced by a new one", "", false},
		{"one with spaces is replaced", "hello world", false},
		{"one with quotes is replaced", `a"b`, false},
		{"one of 129 bytes is replaced", strings.Repeat("a", 129), false},
		{"non-ASCII is replaced", "idé", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var hdr []string
			if c.sent != "" {
				hdr = []string{"X-Request-Id", c.sent}
			}
			got := h.record("GET", "/healthz", "", "", hdr...).Header.Get("X-Request-Id")
			switch {
			case c.kept && got != c.sent:
				t.Errorf("echoed %q, want %q", got, c.sent)
			case !c.kept && !generatedID.MatchString(got):
				t.Errorf("echoed %q, want a generated id", got)
			}
		})
	}
	if a, b := h.record("GET", "/healthz", "", "").Header.Get("X-Request-Id"), h.record("GET", "/healthz", "", "").Header.Get("X-Request-Id"); a == b {
		t.Errorf("two requests got the same id %q", a)
	}
}

func FuzzRequestID(f *testing.F) {
	for _, s := range []string{"", "abc", "0b6f7a52-3c1e-4f6e-9d3a-2a1c5e8b7f00", "a b", "\x00", strings.Repeat("z", 200)} {
		f.Add(s)
	}
	allowed := regexp.MustCompile(`^[A-Za-z0-9_.:+/=@-]{1,128}$`)
	f.Fuzz(func(t *testing.T, sent string) {
		if saneRequestID(sent) && !allowed.MatchString(sent) {
			t.Fatalf("%q passed as sane", sent)
		}
		if !saneRequestID(sent) && allowed.MatchString(sent) {
			t.Fatalf("%q refused", sent)
		}
		if id := newRequestID(); !generatedID.MatchString(id) {
			t.Fatalf("generated %q", id)
		}
	})
}

// TestRequestLines checks what the access log says per request: the request id it echoed,
// the user and session on authenticated routes only, and probes at DEBUG.
func TestRequestLines(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tok := h.login(t, "alice", alicePassword)
	sid := h.record("GET", "/api/auth/me", "", "", bearer(tok.AccessToken)...).json(t)["sid"].(string)
	h.record("GET", "/api/weather", "", "", append(bearer(tok.AccessToken), "X-Request-Id", "req-weather-1")...)
	h.record("GET", "/healthz", "", "")
	lines := strings.Split(strings.TrimSpace(h.logs.String()), "\n")

	find := func(path string) string {
		for _, l := range lines {
			if strings.Contains(l, "msg=request ") && strings.Contains(l, " path="+path+" ") {
				return l
			}
		}
		t.Fatalf("no request line for %s:\n%s", path, h.logs.String())
		return ""
	}
	if l := find("/api/weather"); !strings.Contains(l, " request_id=req-weather-1") || !strings.Contains(l, " user=alice sid="+sid) || !strings.Contains(l, "level=INFO") {
		t.Errorf("weather line: %s", l)
	}
	if l := find("/api/auth/login"); strings.Contains(l, " user=") || strings.Contains(l, " sid=") || !generatedIDIn(l) {
		t.Errorf("login line (not an authenticated route): %s", l)
	}
	if l := find("/healthz"); !strings.Contains(l, "level=DEBUG") {
		t.Errorf("probe line: %s", l)
	}
}

func generatedIDIn(line string) bool {
	return regexp.MustCompile(` request_id=[0-9a-f]{16}( |$)`).MatchString(line)
}

// requestRecorder is a RequestObserver that keeps what it was told.
type requestRecorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *requestRecorder) ObserveRequest(route string, status int, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d <= 0 {
		route = "(no duration) " + route
	}
	r.seen = append(r.seen, route+" "+strconv.Itoa(status))
}

func TestRequestObserverGetsRoutePatterns(t *testing.T) {
	t.Parallel()
	rec := &requestRecorder{}
	h := newHarness(t, func(_ *server.Config, c *Config) { c.Requests = rec })
	tok := h.login(t, "alice", alicePassword)
	h.record("GET", "/api/weather?days=3", "", "", bearer(tok.AccessToken)...)
	h.record("GET", "/api/weather", "", "", bearer("not-a-token")...)
	h.record("GET", "/no/such/path/12345", "", "")
	h.record("POST", "/api/auth/refresh", jsonType, `{"refresh_token":"`+strings.Repeat("x", MaxBody)+`"}`)
	want := []string{
		"POST /api/auth/login 200",
		"GET /api/weather 200",
		"GET /api/weather 401",
		"/ 404", // the catch-all: one series for every unknown path, whatever clients send
		" 413",  // refused before routing
	}
	if strings.Join(rec.seen, "\n") != strings.Join(want, "\n") {
		t.Errorf("observed:\n%s\nwant:\n%s", strings.Join(rec.seen, "\n"), strings.Join(want, "\n"))
	}
}
