package cli

import (
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// The public URL and the issuer (README "Configuration" and "Upgrading").
//
// RFC 8414 §2 and §3.3 want the issuer to be the server's URL, equal to the base the
// metadata document is fetched from, and RFC 9068 puts that same string in every access
// token's iss. So the issuer defaults to the public URL, and the public URL defaults to what
// --addr and TLS say: http://127.0.0.1:5000 for the default --addr, https://host:port under
// TLS. A wildcard --addr (0.0.0.0, ::, or no host) names no host a client could use; the
// loopback form is taken then, with a warning at start-up, rather than refusing the common
// container setup outright or guessing a host name that may not resolve.

// checkServerURL is the shape every URL naming this server must have: absolute http or
// https, a host, no user info, query or fragment (RFC 8414 §2 forbids the last two in an
// issuer, and they would make no sense as the base of the endpoint URLs).
func checkServerURL(flag, raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return usageError("%s %q is not a URL: %v", flag, raw, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return usageError("%s %q must be an http:// or https:// URL", flag, raw)
	case u.Host == "" || u.Hostname() == "":
		return usageError("%s %q has no host", flag, raw)
	case u.User != nil:
		return usageError("%s %q must not hold user info", flag, raw)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#"):
		return usageError("%s %q must not have a query or a fragment", flag, raw)
	}
	return nil
}

// isServerURL says whether raw passes checkServerURL.
func isServerURL(raw string) bool { return checkServerURL("", raw) == nil }

// derivePublicURL is the default --public-url for a server listening on addr (the
// listener's real address, so that port 0 becomes the port chosen). wildcard reports that
// addr accepts connections on every interface, so the loopback form stands in for a host
// name only the operator knows.
func derivePublicURL(addr net.Addr, tls bool) (u string, wildcard bool) {
	scheme, defPort := "http", "80"
	if tls {
		scheme, defPort = "https", "443"
	}
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return scheme + "://" + addr.String(), false
	}
	if ip, err := netip.ParseAddr(host); host == "" || (err == nil && ip.IsUnspecified()) {
		// Go's wildcard listeners, "::" included, take IPv4 too; 127.0.0.1 works even where
		// IPv6 loopback is switched off.
		wildcard, host = true, "127.0.0.1"
	}
	if port == defPort {
		if strings.Contains(host, ":") {
			return scheme + "://[" + host + "]", wildcard
		}
		return scheme + "://" + host, wildcard
	}
	return scheme + "://" + net.JoinHostPort(host, port), wildcard
}

// resolvedURLs are the public URL and the issuer the server runs with, and whether the
// public URL was set rather than derived.
type resolvedURLs struct {
	PublicURL, Issuer string
	Explicit          bool
	Wildcard          bool // derived from a wildcard --addr: a warning is due
}

// resolveURLs applies the defaults described at the top of this file: an explicit
// --public-url wins, then an --issuer that is a URL (behind a proxy that was how the base of
// the endpoint URLs was set before --public-url existed), then --addr. The issuer defaults
// to the public URL.
func (o *ServeOptions) resolveURLs(ln net.Addr) resolvedURLs {
	r := resolvedURLs{PublicURL: strings.TrimRight(o.PublicURL, "/"), Issuer: o.Issuer, Explicit: o.PublicURL != ""}
	if r.PublicURL == "" {
		if o.Issuer != "" && isServerURL(o.Issuer) {
			r.PublicURL = strings.TrimRight(o.Issuer, "/")
		} else {
			r.PublicURL, r.Wildcard = derivePublicURL(ln, o.TLSCert != "")
		}
	}
	if r.Issuer == "" {
		r.Issuer = r.PublicURL
	}
	return r
}

// checkIssuerFlags refuses an --issuer that is not a URL unless the operator asked to keep
// one, since such tokens and metadata are refused by standard OAuth libraries.
func (o *ServeOptions) checkIssuerFlags() error {
	if o.PublicURL != "" {
		if err := checkServerURL("--public-url", o.PublicURL); err != nil {
			return err
		}
	}
	if o.Issuer == "" || isServerURL(o.Issuer) {
		return nil
	}
	if strings.Contains(o.Issuer, ":") {
		// A colon makes it a URI (RFC 7519 §2), so it was meant as a URL: say what is wrong.
		return checkServerURL("--issuer", o.Issuer)
	}
	if !o.AllowNonURLIssuer {
		return usageError("--issuer %q is not a URL; RFC 8414 and RFC 9068 want the server's URL (the default is the public URL). "+
			"To keep accepting tokens issued under a plain name, add --allow-non-url-issuer (README \"Upgrading\")", o.Issuer)
	}
	return nil
}
