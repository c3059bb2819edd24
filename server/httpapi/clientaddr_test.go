package httpapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func prefixes(t testing.TB, ss ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, s := range ss {
		p, err := ParseTrustedProxy(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func TestResolveClientAddr(t *testing.T) {
	t.Parallel()
	proxies := prefixes(t, "10.0.0.0/8", "2001:db8:ffff::/48", "192.0.2.1")
	type hdr [2]string // name, value: one header line each, in order
	for _, c := range []struct {
		name    string
		peer    string
		trusted []netip.Prefix
		lines   []hdr
		want    string
	}{
		// Without trusted proxies nothing but the peer counts.
		{"no trusted proxies: X-Forwarded-For is ignored", "203.0.113.9:5555", nil,
			[]hdr{{"X-Forwarded-For", "198.51.100.1"}}, "203.0.113.9"},
		{"an untrusted peer's X-Forwarded-For is ignored", "203.0.113.9:5555", proxies,
			[]hdr{{"X-Forwarded-For", "198.51.100.1"}}, "203.0.113.9"},
		{"an untrusted peer's Forwarded is ignored", "203.0.113.9:5555", proxies,
			[]hdr{{"Forwarded", "for=198.51.100.1"}}, "203.0.113.9"},
		{"a trusted peer without headers is the client", "10.1.2.3:5555", proxies, nil, "10.1.2.3"},

		// X-Forwarded-For from a trusted proxy.
		{"one proxy: the hop it appended", "10.1.2.3:5555", proxies,
			[]hdr{{"X-Forwarded-For", "198.51.100.1"}}, "198.51.100.1"},
		{"spoofed left-most entries are skipped", "10.1.2.3:5555", proxies,
			[]hdr{{"X-Forwarded-For", "1.1.1.1, 2.2.2.2,198.51.100.1"}}, "198.51.100.1"},
		{"a chain of trusted proxies is walked from the right", "10.1.2.3:5555", proxies,
			[]hdr{{"X-Forwarded-For", "6.6.6.6, 198.51.100.1, 10.9.9.9, 192.0.2.1"}}, "198.51.100.1"},
		{"several header lines read as one list, in order", "10.1.2.3:5555", proxies,
			[]hdr{{"X-Forwarded-For", "6.6.6.6, 198.51.100.1"}, {"X-Forwarded-For", "10.9.9.9"}}, "198.51.100.1"},
		{"a spoofed line before the proxy's own", "10.1.2.3:5555", proxies,
			[]hdr{{"X-Forwarded-For", "6.6.6.6"}, {"X-Forwarded-For", "198.51.100.1"}}, "198.51.100.1"},
		{"hops with ports", "10.1.2.3:5555", proxies,
			[]hdr{{"X-Forwarded-For", "198.51.100.1:4711"}}, "198.51.100.1"},
		{"IPv6 hop", "10.1.2.3:5555", proxies,
			[]hdr{{"X-Forwarded-For", "2001:db8:1::7"}}, "2001:db8:1::7"},
		{"IPv6 hop in brackets with a port", "10.1.2.3:5555", proxies,
			[]hdr{{"X-Forwarded-For", "[2001:db8:1::7]:4711"}}, "2001:db8:1::7"},
		{"an IPv4-mapped hop is its IPv4 address", "10.1.2.3:5555", proxies,
			[]hdr{{"X-Forwarded-For", "::ffff:198.51.100.1"}}, "198.51.100.1"},
		{"an IPv6 proxy peer", "[2001:db8:ffff::1]:5555", proxies,
			[]hdr{{"X-Forwarded-For", "198.51.100.1"}}, "198.51.100.1"},
		{"an IPv4-mapped proxy peer is trusted as IPv4", "[::ffff:10.1.2.3]:5555", proxies,
			[]hdr{{"X-Forwarded-For", "198.51.100.1"}}, "198.51.100.1"},
		{"every hop trusted: the left-most", "10.1.2.3:5555", proxies,
			[]hdr{{"X-Forwarded-For", "10.7.7.7, 10.8.8.8"}}, "10.7.7.7"},
		{"garbage where the client should be: the peer", "10.1.2.3:5555", proxies,
			[]hdr{{"X-Forwarded-For", "not-an-ip"}}, "10.1.2.3"},
		{"garbage behind a trusted hop: the peer", "10.1.2.3:5555", proxies,
			[]hdr{{"X-Forwarded-For", "198.51.100.1, garbage, 10.8.8.8"}}, "10.1.2.3"},
		{"garbage left of the client is never reached", "10.1.2.3:5555", proxies,
			[]hdr{{"X-Forwarded-For", "garbage, 198.51.100.1"}}, "198.51.100.1"},
		{"an empty header: the peer", "10.1.2.3:5555", proxies,
			[]hdr{{"X-Forwarded-For", " , "}}, "10.1.2.3"},

		// Forwarded (RFC 7239) from a trusted proxy.
		{"Forwarded: for= of the last element", "10.1.2.3:5555", proxies,
			[]hdr{{"Forwarded", "for=6.6.6.6, for=198.51.100.1;proto=https;by=10.1.2.3"}}, "198.51.100.1"},
		{"Forwarded: parameter names in any case", "10.1.2.3:5555", proxies,
			[]hdr{{"Forwarded", "For=198.51.100.1"}}, "198.51.100.1"},
		{"Forwarded: quoted IPv6 with a port", "10.1.2.3:5555", proxies,
			[]hdr{{"Forwarded", `for="[2001:db8:1::7]:4711"`}}, "2001:db8:1::7"},
		{"Forwarded: unknown is not an address", "10.1.2.3:5555", proxies,
			[]hdr{{"Forwarded", "for=198.51.100.1, for=unknown"}}, "10.1.2.3"},
		{"Forwarded: an obfuscated node is not an address", "10.1.2.3:5555", proxies,
			[]hdr{{"Forwarded", "for=_hidden"}}, "10.1.2.3"},
		{"Forwarded: an element without for=", "10.1.2.3:5555", proxies,
			[]hdr{{"Forwarded", "proto=https"}}, "10.1.2.3"},
		{"Forwarded: a repeated parameter makes the element unusable", "10.1.2.3:5555", proxies,
			[]hdr{{"Forwarded", "for=198.51.100.1;for=6.6.6.6"}}, "10.1.2.3"},
		{"Forwarded: an unterminated quote does not swallow the proxy's element", "10.1.2.3:5555", proxies,
			[]hdr{{"Forwarded", `for="6.6.6.6, for=198.51.100.1`}}, "198.51.100.1"},
		{"Forwarded: a quote closed by the proxy's quote does not swallow it", "10.1.2.3:5555", proxies,
			[]hdr{{"Forwarded", `for="x, for="[2001:db8:1::7]"`}}, "2001:db8:1::7"},
		{"Forwarded: a comma inside quotes stays inside", "10.1.2.3:5555", proxies,
			[]hdr{{"Forwarded", `for=198.51.100.1;ext="a,b"`}}, "198.51.100.1"},
		{"Forwarded: lines parsed one by one", "10.1.2.3:5555", proxies,
			[]hdr{{"Forwarded", `for="broken`}, {"Forwarded", "for=198.51.100.1"}}, "198.51.100.1"},
		{"X-Forwarded-For wins over Forwarded", "10.1.2.3:5555", proxies,
			[]hdr{{"Forwarded", "for=6.6.6.6"}, {"X-Forwarded-For", "198.51.100.1"}}, "198.51.100.1"},

		// A peer that is not an IP address at all is kept as the server saw it.
		{"a non-IP peer is kept as is", "@", proxies, []hdr{{"X-Forwarded-For", "198.51.100.1"}}, "@"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			for _, l := range c.lines {
				h.Add(l[0], l[1])
			}
			if got := resolveClientAddr(c.peer, h, c.trusted); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestParseTrustedProxy(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"10.0.0.0/8":       "10.0.0.0/8",
		"10.1.2.3/8":       "10.0.0.0/8", // masked, so that Contains means what it says
		" 192.0.2.1 ":      "192.0.2.1/32",
		"2001:db8::/32":    "2001:db8::/32",
		"2001:db8::1":      "2001:db8::1/128",
		"not-a-prefix":     "",
		"10.0.0.0/33":      "",
		"fe80::1%eth0":     "",
		"fe80::1%eth0/64":  "",
		"":                 "",
		"10.0.0.0/8,1.2.3": "",
	} {
		p, err := ParseTrustedProxy(in)
		switch {
		case want == "" && err == nil:
			t.Errorf("%q: accepted as %s", in, p)
		case want != "" && (err != nil || p.String() != want):
			t.Errorf("%q: got %s, %v; want %s", in, p, err, want)
		}
	}
}

// TestTrustProxiesEndToEnd runs the middleware in front of the real handler on loopback:
// the access log and the login limiter's key see the forwarded client, but only when the
// peer (127.0.0.1 here) is trusted.
func TestTrustProxiesEndToEnd(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		trusted []netip.Prefix
		want    string
	}{
		{"loopback trusted: the forwarded client", prefixes(t, "127.0.0.0/8"), "addr=198.51.100.1"},
		{"nothing trusted: the peer", nil, "addr=127.0.0.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			srv := httptest.NewServer(TrustProxies(c.trusted)(h.handler))
			t.Cleanup(srv.Close)
			req, _ := http.NewRequest("GET", srv.URL+"/healthz", nil)
			req.Header.Set("X-Forwarded-For", "6.6.6.6, 198.51.100.1")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if !strings.Contains(h.logs.String(), c.want) {
				t.Errorf("access log lacks %s:\n%s", c.want, h.logs)
			}
		})
	}
}

// FuzzForwardedHeaders feeds arbitrary client-written header text ahead of what a trusted
// proxy appends. Whatever the client wrote, the answer must be the address the proxy
// recorded: that is the whole point of walking from the right.
func FuzzForwardedHeaders(f *testing.F) {
	for _, s := range []string{
		"", "1.2.3.4", "for=1.2.3.4", `for="`, `for="[::1]:80"`, `for="x\`, `a=b;c="d,e"`,
		"for=unknown;by=_x", `for="x, for="`, ";;,,", "for=1.2.3.4;for=5.6.7.8", "\"\"\"", "[::1", "_:_",
	} {
		f.Add(s)
	}
	trusted := prefixes(f, "10.0.0.0/8")
	f.Fuzz(func(t *testing.T, client string) {
		// The parsers alone: any input, no panic, only valid or zero addresses.
		for _, a := range parseForwarded(client) {
			if a.IsValid() && (a.Zone() != "" || a.Is4In6()) {
				t.Fatalf("non-canonical hop %v from %q", a, client)
			}
		}
		parseNode(client)

		for _, c := range []struct{ header, appended, want string }{
			{"X-Forwarded-For", ", 203.0.113.7", "203.0.113.7"},
			{"Forwarded", ", for=203.0.113.7;proto=https", "203.0.113.7"},
			{"Forwarded", `, for="[2001:db8::7]:4711"`, "2001:db8::7"},
		} {
			// The proxy appended to the client's line...
			h := http.Header{}
			h.Set(c.header, client+c.appended)
			if got := resolveClientAddr("10.0.0.1:1234", h, trusted); got != c.want {
				t.Fatalf("%s: %q: got %q, want %q", c.header, h.Get(c.header), got, c.want)
			}
			// ...or added a line of its own.
			h = http.Header{}
			h.Add(c.header, client)
			h.Add(c.header, strings.TrimPrefix(c.appended, ", "))
			if got := resolveClientAddr("10.0.0.1:1234", h, trusted); got != c.want {
				t.Fatalf("%s lines %q: got %q, want %q", c.header, h.Values(c.header), got, c.want)
			}
		}
	})
}
