package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// Client address behind trusted proxies (README "Configuration", --trusted-proxy).
//
// The per-address login limit needs to know who is on the other end. Without configured
// proxies that is the TCP peer, and X-Forwarded-For / Forwarded are ignored: any client can
// write them. When the peer is one of the operator's proxies, the proxy's record of the
// hops decides instead: every proxy appends the address it received the request from, so
// walking the list from the right, the first address that is not itself a trusted proxy is
// the first one nobody we trust vouches for — the client. Everything left of it was written
// by the client and is ignored, so a spoofed header cannot choose its own rate-limit bucket.
//
// X-Forwarded-For is read when present, Forwarded (RFC 7239) otherwise: nearly every proxy
// writes X-Forwarded-For, and preferring Forwarded would let a client behind such a proxy
// choose its address by sending a Forwarded header of its own. A proxy that writes only
// Forwarded must drop an incoming X-Forwarded-For (README says so).

type clientAddrKey struct{}

// TrustProxies returns middleware that records each request's client address for
// clientAddr: the peer, or, when the peer is within trusted, the right-most forwarded hop
// that is not (see above). With no trusted prefixes it returns next unchanged and the
// forwarding headers stay ignored.
func TrustProxies(trusted []netip.Prefix) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if len(trusted) == 0 {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			addr := resolveClientAddr(r.RemoteAddr, r.Header, trusted)
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientAddrKey{}, addr)))
		})
	}
}

// clientAddr is the client's IP address, the key of the per-address login limit: what
// TrustProxies decided, else the TCP peer. Forwarding headers are never read here: any
// client can write them, and trusting them from anyone but our own proxies would let one
// attacker spread guesses over invented addresses.
func clientAddr(r *http.Request) string {
	if a, ok := r.Context().Value(clientAddrKey{}).(string); ok {
		return a
	}
	if a, ok := peerAddr(r.RemoteAddr); ok {
		return a.String()
	}
	return r.RemoteAddr
}

// ParseTrustedProxy reads one --trusted-proxy value: a CIDR prefix, or a single address
// meaning just that host.
func ParseTrustedProxy(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		if p.Addr().Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q: a trusted proxy cannot have a zone", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR prefix (e.g. 10.0.0.0/8, 2001:db8::/32)", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// resolveClientAddr is the rule described at the top of this file. The answer is an
// address in canonical text form (IPv4 for IPv4-mapped IPv6), or the raw peer when even
// that is not an IP address (no limit key can be better than what the server saw).
func resolveClientAddr(remoteAddr string, h http.Header, trusted []netip.Prefix) string {
	peer, ok := peerAddr(remoteAddr)
	if !ok {
		return remoteAddr
	}
	if !within(peer, trusted) {
		return peer.String()
	}
	hops := forwardedHops(h)
	if len(hops) == 0 {
		return peer.String()
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a := hops[i]
		if !a.IsValid() {
			// A trusted proxy recorded something that is not an address ("unknown", an
			// obfuscated name, garbage): whoever is behind it cannot be named, so the
			// proxy itself is the best key there is.
			return peer.String()
		}
		if !within(a, trusted) {
			return a.String()
		}
	}
	// Every hop is a trusted proxy: the request started inside the trusted network, and
	// the left-most hop is where.
	return hops[0].String()
}

func within(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerAddr parses http.Request.RemoteAddr ("ip:port").
func peerAddr(remoteAddr string) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	return canonical(ap.Addr()), true
}

// canonical drops what would make one host look like two keys: an IPv6 zone, and the
// IPv4-mapped IPv6 form of an IPv4 address.
func canonical(a netip.Addr) netip.Addr { return a.WithZone("").Unmap() }

// forwardedHops lists the hops the proxies recorded, left (farthest) to right (nearest).
// A hop that is not an address is the zero Addr. Header lines are read in order, as
// RFC 9110 §5.3 says a list split over lines means the same as one comma-joined line;
// parsing them one by one keeps a malformed line from swallowing the next.
func forwardedHops(h http.Header) []netip.Addr {
	var hops []netip.Addr
	if lines := h.Values("X-Forwarded-For"); len(lines) > 0 {
		for _, line := range lines {
			for _, e := range strings.Split(line, ",") {
				if e = strings.TrimSpace(e); e != "" {
					hops = append(hops, parseNode(e))
				}
			}
		}
		return hops
	}
	for _, line := range h.Values("Forwarded") {
		hops = append(hops, parseForwarded(line)...)
	}
	return hops
}

// parseNode reads one hop: an IPv4 or IPv6 address, optionally with a port, IPv6 in
// brackets when a port follows ("203.0.113.7", "203.0.113.7:4711", "2001:db8::7",
// "[2001:db8::7]:4711"). Anything else (RFC 7239's "unknown" and "_obfuscated" included)
// is the zero Addr.
func parseNode(s string) netip.Addr {
	if a, err := netip.ParseAddr(s); err == nil {
		return canonical(a)
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return canonical(ap.Addr())
	}
	if rest, ok := strings.CutPrefix(s, "["); ok {
		if inside, after, ok := strings.Cut(rest, "]"); ok && (after == "" || validPort(after)) {
			if a, err := netip.ParseAddr(inside); err == nil && a.Is6() {
				return canonical(a)
			}
		}
		return netip.Addr{}
	}
	if i := strings.LastIndexByte(s, ':'); i > 0 && validPort(s[i:]) { // IPv4 with an obfuscated port
		if a, err := netip.ParseAddr(s[:i]); err == nil && a.Is4() {
			return a
		}
	}
	return netip.Addr{}
}

// validPort accepts RFC 7239's node-port after an address: ":" then digits or an
// obfuscated "_" name.
func validPort(s string) bool {
	p, ok := strings.CutPrefix(s, ":")
	if !ok || p == "" {
		return false
	}
	if p[0] == '_' {
		return len(p) > 1 && strings.Trim(p[1:], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == ""
	}
	return len(p) <= 5 && strings.Trim(p, "0123456789") == ""
}

// parseForwarded reads the for= node of each element of one Forwarded field line
// (RFC 7239 §4). An element that is malformed, or lacks for=, is a zero Addr; parsing then
// resumes after the next comma, quotes notwithstanding. That resynchronisation matters: a
// client can send an unterminated quote, and a proxy appending its element to the same
// line must not have it swallowed.
func parseForwarded(line string) []netip.Addr {
	var hops []netip.Addr
	rest := line
	for {
		rest = strings.TrimLeft(rest, " \t")
		if rest == "" {
			return hops
		}
		if rest[0] == ',' { // an empty list element (RFC 9110 §5.6.1 allows them)
			rest = rest[1:]
			continue
		}
		addr, after, ok := parseForwardedElement(rest)
		if !ok {
			addr = netip.Addr{}
			i := strings.IndexByte(rest, ',')
			if i < 0 {
				return append(hops, addr)
			}
			after = rest[i+1:]
		}
		hops = append(hops, addr)
		rest = after
	}
}

// parseForwardedElement reads forwarded-pairs up to the end of one element and returns its
// for= node (zero when absent) and what follows the element's comma. ok is false for a
// syntax error or a parameter given twice.
func parseForwardedElement(s string) (node netip.Addr, rest string, ok bool) {
	seen := map[string]bool{}
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return node, "", true
		}
		switch s[0] {
		case ',':
			return node, s[1:], true
		case ';':
			s = s[1:]
			continue
		}
		name, value, after, ok := parsePair(s)
		if !ok {
			return netip.Addr{}, "", false
		}
		name = strings.ToLower(name)
		if seen[name] {
			return netip.Addr{}, "", false
		}
		seen[name] = true
		if name == "for" {
			node = parseNode(value)
		}
		s = strings.TrimLeft(after, " \t")
		if s != "" && s[0] != ';' && s[0] != ',' {
			return netip.Addr{}, "", false
		}
	}
}

// parsePair reads token "=" ( token / quoted-string ).
func parsePair(s string) (name, value, rest string, ok bool) {
	n := tokenLen(s)
	if n == 0 || n >= len(s) || s[n] != '=' {
		return "", "", "", false
	}
	name, s = s[:n], s[n+1:]
	if s != "" && s[0] == '"' {
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			switch c := s[i]; c {
			case '"':
				return name, b.String(), s[i+1:], true
			case '\\':
				if i+1 == len(s) {
					return "", "", "", false
				}
				i++
				b.WriteByte(s[i])
			default:
				b.WriteByte(c)
			}
		}
		return "", "", "", false // unterminated
	}
	v := tokenLen(s)
	if v == 0 {
		return "", "", "", false
	}
	return name, s[:v], s[v:], true
}

// tokenLen is the length of the RFC 9110 token at the start of s.
func tokenLen(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return i
	}
	return len(s)
}
