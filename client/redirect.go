package client

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// refuseCrossOriginRedirects is an http.Client CheckRedirect that stops a redirect to
// another origin when the original request had a body or explicit credentials, then defers
// to next (nil: net/http's default of at most 10 redirects). Cross-origin redirects of plain
// GETs are still followed: the refreshing transport attaches the token only for the
// client's own server, and net/http drops Authorization and Cookie on the way.
func refuseCrossOriginRedirects(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		first, prev := via[0], via[len(via)-1]
		if !sameOrigin(req.URL, prev.URL) && carriesSecrets(first) {
			return &RedirectError{From: origin(prev.URL), To: origin(req.URL)}
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
}

// carriesSecrets says whether r has something that must not change origin: a body (a
// password, a refresh token) or credentials set by the caller.
func carriesSecrets(r *http.Request) bool {
	hasBody := r.ContentLength != 0 || r.GetBody != nil || (r.Body != nil && r.Body != http.NoBody)
	return hasBody || r.Header.Get("Authorization") != "" || r.Header.Get("Cookie") != ""
}

// sameOrigin compares scheme, host and port (RFC 6454), the default port written or not.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(canonicalHost(a), canonicalHost(b))
}

// origin is u's scheme://host[:port], for messages.
func origin(u *url.URL) string { return strings.ToLower(u.Scheme) + "://" + u.Host }

// asRedirectError returns the RedirectError err wraps, if any.
func asRedirectError(err error) (*RedirectError, bool) {
	var re *RedirectError
	ok := errors.As(err, &re)
	return re, ok
}
