package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// Transport safety: what the client refuses to send where, the trust it adds for private
// CAs, and how server addresses typed without a scheme are completed.

// ErrInsecureHTTP is returned for a request over plain http:// to a host that is not
// loopback, unless the client was built WithInsecureHTTP: a password or a token would
// cross the network in clear.
var ErrInsecureHTTP = errors.New("plain http:// to a host that is not loopback")

// WithInsecureHTTP allows plain http:// to any host (--insecure).
func WithInsecureHTTP() Option { return func(c *Client) { c.insecure = true } }

// IsLoopback says whether host (a URL's Hostname, without brackets or port) names this
// machine: a loopback IP literal, "localhost", or a name under ".localhost", which
// RFC 6761 §6.3 reserves for loopback.
func IsLoopback(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Cleartext says whether requests to the server at base (a URL) travel in clear beyond
// this machine: plain http:// to a host that is not loopback.
func Cleartext(base string) bool {
	u, err := url.Parse(base)
	return err == nil && strings.EqualFold(u.Scheme, "http") && !IsLoopback(u.Hostname())
}

// CheckTransport returns ErrInsecureHTTP (wrapped, naming the host) when the client's own
// server is cleartext and the client was not built WithInsecureHTTP. The CLI calls it
// before asking for a password that could not be sent anyway.
func (c *Client) CheckTransport() error {
	if c.insecure || !Cleartext(c.base) {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrInsecureHTTP, c.base)
}

// guard refuses cleartext requests for every exchange of the client — its own calls,
// the refreshing transport and any redirect they follow — unless insecure is set.
type guard struct {
	base     http.RoundTripper
	insecure bool
}

func (g guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if !g.insecure && strings.EqualFold(req.URL.Scheme, "http") && !IsLoopback(req.URL.Hostname()) {
		if req.Body != nil {
			req.Body.Close() // RoundTrip owns the body, even on errors
		}
		return nil, fmt.Errorf("%w: %s://%s", ErrInsecureHTTP, req.URL.Scheme, req.URL.Host)
	}
	return g.base.RoundTrip(req)
}

// NewTransport returns an http.Transport like http.DefaultTransport that also trusts the
// CA certificates in the PEM file caFile (--ca-file), on top of the system's roots, which
// SSL_CERT_FILE and SSL_CERT_DIR already change on Linux. An empty caFile adds nothing.
func NewTransport(caFile string) (*http.Transport, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile == "" {
		return tr, nil
	}
	data, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("--ca-file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool() // no system roots here: trust only the given CA
	}
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("--ca-file %s: no PEM certificate in it", caFile)
	}
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return tr, nil
}

// ServerURL completes a server address typed without a scheme ("host:port", "host/path"):
// https:// in front, or http:// for a loopback host, which is what a local `authctl serve`
// speaks. added reports whether a scheme was added, so that the CLI can say so. Anything
// with "://" is returned as is, for NormalizeServer to judge.
func ServerURL(raw string) (u string, added bool) {
	raw = strings.TrimSpace(raw)
	if raw == "" || strings.Contains(raw, "://") {
		return raw, false
	}
	hostport, _, _ := strings.Cut(raw, "/")
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if IsLoopback(host) {
		return "http://" + raw, true
	}
	return "https://" + raw, true
}
