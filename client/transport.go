package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/authctl/authctl/keystore"
)

// transport attaches the bearer token, refreshes it before it expires, and after a 401
// refreshes once and replays the request once.
type transport struct {
	base http.RoundTripper
	c    *Client
}

// RoundTrip implements http.RoundTripper. It never modifies req; each attempt is a clone.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := t.c
	if !c.ownServer(req.URL) {
		return t.base.RoundTrip(req) // a redirect elsewhere never carries our token
	}
	if c.static != "" {
		return t.send(req, req.Body, c.static)
	}
	ctx := req.Context()
	s, err := c.validSession(ctx)
	if err != nil {
		closeBody(req.Body) // RoundTrip owns the body, even on errors
		return nil, err
	}
	resp, err := t.send(req, req.Body, s.AccessToken)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	hasBody := req.Body != nil && req.Body != http.NoBody
	if hasBody && req.GetBody == nil {
		return resp, nil // the body is spent and cannot be sent again
	}
	discard(resp)
	s, err = c.refresh(ctx, s, false)
	if err != nil {
		return nil, err
	}
	body := req.Body
	if hasBody {
		if body, err = req.GetBody(); err != nil {
			return nil, fmt.Errorf("replay %s %s: %w", req.Method, req.URL.Path, err)
		}
	}
	c.log(fmt.Sprintf("replaying %s %s", req.Method, req.URL.Path))
	return t.send(req, body, s.AccessToken) // once: a second 401 goes back as is
}

func (t *transport) send(req *http.Request, body io.ReadCloser, token string) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Body = body
	r.Header.Set("Authorization", "Bearer "+token)
	if r.Header.Get("User-Agent") == "" {
		r.Header.Set("User-Agent", t.c.ua)
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, offline(err)
	}
	t.c.log(fmt.Sprintf("%s %s → %d", r.Method, r.URL.Path, resp.StatusCode))
	return resp, nil
}

// URL resolves ref for a request to the server: a path is joined to the server's URL (with
// its base path); an absolute URL must be of the server's own origin — the one rule by which
// the transport decides where the token goes — else the error is an *OriginError.
func (c *Client) URL(ref string) (*url.URL, error) {
	if scheme, _, ok := strings.Cut(ref, "://"); ok && scheme != "" && strings.Trim(strings.ToLower(scheme), "abcdefghijklmnopqrstuvwxyz0123456789+-.") == "" {
		u, err := url.Parse(ref)
		if err != nil {
			return nil, err
		}
		if !c.ownServer(u) {
			return nil, &OriginError{URL: u.Redacted(), Server: c.base}
		}
		return u, nil
	}
	if !strings.HasPrefix(ref, "/") {
		ref = "/" + ref
	}
	return url.Parse(c.base + ref)
}

// ownServer says whether u is on the client's server (same scheme and host).
func (c *Client) ownServer(u *url.URL) bool {
	b, err := url.Parse(c.base)
	return err == nil && strings.EqualFold(u.Scheme, b.Scheme) && strings.EqualFold(canonicalHost(u), canonicalHost(b))
}

func canonicalHost(u *url.URL) string {
	port := u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	return u.Hostname() + ":" + port
}

func closeBody(b io.ReadCloser) {
	if b != nil {
		b.Close()
	}
}

// discard reads a little of a response we drop, so the connection can be reused.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// fresh says whether the access token is good for at least the skew. An unknown expiry
// counts as fresh: the server's 401 will tell.
func (c *Client) fresh(s keystore.Session) bool {
	if s.AccessToken == "" {
		return false
	}
	return s.AccessExpiry.IsZero() || c.now().Add(c.skew).Before(s.AccessExpiry)
}

// validSession loads the session and refreshes it first when its access token is about to
// expire.
func (c *Client) validSession(ctx context.Context) (keystore.Session, error) {
	s, err := c.Session(ctx)
	if err != nil || c.fresh(s) {
		return s, err
	}
	c.log("access token expires within " + c.skew.String() + ": refreshing first")
	return c.refresh(ctx, s, false)
}

// refresh replaces held, the session whose access token is stale (or, when force is set,
// any session), and returns its successor.
//
// Goroutines of this process take turns; whoever finds on its turn that the stored session
// is no longer held uses it instead of refreshing again. Across processes the same check
// runs again after taking the per-server file lock and re-reading the keystore, and the
// successor is saved before the lock is released, so a rotating refresh token is spent
// once.
func (c *Client) refresh(ctx context.Context, held keystore.Session, force bool) (keystore.Session, error) {
	if c.sessions == nil {
		return keystore.Session{}, ErrNotLoggedIn
	}
	if err := c.enter(ctx); err != nil {
		return keystore.Session{}, err
	}
	defer c.leave()
	if !force {
		s, err := c.current(ctx)
		if err != nil {
			return keystore.Session{}, err
		}
		if c.replaced(s, held) {
			return s, nil
		}
	}

	unlock, err := c.lock(ctx)
	if err != nil {
		return keystore.Session{}, err
	}
	defer unlock()
	s, err := c.current(ctx)
	if err != nil {
		return keystore.Session{}, err
	}
	if !force && c.replaced(s, held) {
		c.log("token refreshed by another authctl process")
		return s, nil
	}
	if s.RefreshToken == "" || (!s.RefreshExpiry.IsZero() && !c.now().Before(s.RefreshExpiry)) {
		return keystore.Session{}, c.endSession(ctx, nil)
	}

	var t Tokens
	err = c.postJSON(ctx, "/api/auth/refresh", map[string]string{"refresh_token": s.RefreshToken}, &t)
	at := c.now()
	if errors.Is(err, ErrInvalidGrant) {
		return keystore.Session{}, c.endSession(ctx, err)
	}
	if err != nil {
		return keystore.Session{}, fmt.Errorf("refresh the session for %s: %w", c.base, err)
	}
	if t.AccessToken == "" {
		return keystore.Session{}, fmt.Errorf("refresh the session for %s: the token response lacks an access token", c.base)
	}
	next := c.sessionFrom(s.Username, t, at)
	if t.RefreshToken == "" { // the server chose not to rotate (RFC 6749 §6)
		next.RefreshToken, next.RefreshExpiry = s.RefreshToken, s.RefreshExpiry
	}
	if err := c.sessions.Save(ctx, next); err != nil {
		// The old refresh token is spent; the server's reuse grace lets a prompt retry
		// with it receive this same successor.
		return keystore.Session{}, fmt.Errorf("store the refreshed session for %s: %w", c.base, err)
	}
	c.log("token refreshed")
	return next, nil
}

// current re-reads the session during a refresh; a session gone meanwhile was ended by
// another process (logout, or a refresh answered invalid_grant).
func (c *Client) current(ctx context.Context) (keystore.Session, error) {
	s, err := c.Session(ctx)
	if errors.Is(err, ErrNotLoggedIn) {
		return s, ErrSessionEnded
	}
	return s, err
}

// replaced says whether someone else already refreshed held into s.
func (c *Client) replaced(s, held keystore.Session) bool {
	return (s.AccessToken != held.AccessToken || s.RefreshToken != held.RefreshToken) && c.fresh(s)
}

// endSession deletes the local session, which can no longer be refreshed.
func (c *Client) endSession(ctx context.Context, cause error) error {
	if err := c.sessions.Delete(ctx, c.base); err != nil {
		return fmt.Errorf("%w; deleting it locally failed: %w", ErrSessionEnded, err)
	}
	c.log("session ended")
	if cause != nil {
		return fmt.Errorf("%w: %w", ErrSessionEnded, cause)
	}
	return ErrSessionEnded
}
