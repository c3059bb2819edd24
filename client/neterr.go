package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
)

// ErrTLS matches a failure of the TLS handshake with the server (an untrusted or wrong
// certificate, or a server that does not speak TLS). It also matches ErrOffline: no
// exchange took place.
var ErrTLS = errors.New("TLS handshake failed")

// offlineError is a failure to exchange with the server. Its message says what failed in
// words, without the method and URL net/http puts in front (the CLI names the server
// once, itself), and with what to try when there is something to try.
type offlineError struct {
	cause error
	tls   bool
}

func (e *offlineError) Error() string { return describe(e.cause) }

func (e *offlineError) Unwrap() []error {
	if e.tls {
		return []error{ErrOffline, ErrTLS, e.cause}
	}
	return []error{ErrOffline, e.cause}
}

// offline wraps err, returned by an HTTP exchange, as an offlineError. Refusals of this
// package and cancellations by the caller are not failures to reach the server and come
// back as they are.
func offline(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *offlineError
	if errors.As(err, &oe) || errors.Is(err, ErrInsecureHTTP) || errors.Is(err, context.Canceled) {
		return err
	}
	return &offlineError{cause: err, tls: isTLS(err)}
}

// isTLS tells a failed TLS handshake from the other failures to reach the server.
func isTLS(err error) bool {
	return errors.As(err, new(x509.UnknownAuthorityError)) || errors.As(err, new(x509.HostnameError)) ||
		errors.As(err, new(x509.CertificateInvalidError)) || errors.As(err, new(*tls.CertificateVerificationError)) ||
		errors.As(err, new(tls.AlertError)) || notTLS(err)
}

// notTLS is a server that answered the handshake with something else than TLS; plain HTTP
// is reported by net/http only in words.
func notTLS(err error) bool {
	return errors.As(err, new(tls.RecordHeaderError)) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")
}

// describe words a transport failure for people.
func describe(err error) string {
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	var dns *net.DNSError
	var ne net.Error
	switch {
	case errors.As(err, &ua):
		issuer := ""
		if ua.Cert != nil && ua.Cert.Issuer.CommonName != "" {
			issuer = fmt.Sprintf(" (%q)", ua.Cert.Issuer.CommonName)
		}
		return "its certificate is signed by an unknown authority" + issuer + "; pass --ca-file with the CA certificate that signed it (or set SSL_CERT_FILE)"
	case errors.As(err, &he):
		return "its certificate is not valid for " + he.Host + " (" + strings.TrimPrefix(he.Error(), "x509: ") + ")"
	case errors.As(err, &ci):
		return "its certificate is not valid: " + strings.TrimPrefix(ci.Error(), "x509: ")
	case notTLS(err):
		return "it does not speak TLS; use http:// (a server without --tls-cert)"
	case errors.As(err, &dns):
		if dns.IsNotFound {
			return "no such host " + dns.Name
		}
		return "looking up " + dns.Name + ": " + dns.Err
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused (is the server running, on that port?)"
	case errors.As(err, &ne) && ne.Timeout():
		return "no answer in time"
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Err.Error()
	}
	return err.Error()
}

// NetworkReason is the words of the failure to reach the server inside err (one that
// matches ErrOffline), without the wrapping that names the server or the call.
func NetworkReason(err error) string {
	var oe *offlineError
	if errors.As(err, &oe) {
		return oe.Error()
	}
	return strings.TrimPrefix(err.Error(), ErrOffline.Error()+": ")
}
