package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"

	"github.com/authctl/authctl/keystore"
)

// errKeystore marks keystore failures, which must never become unauthenticated requests.
var errKeystore = errors.New("keystore")

// LockWait bounds how long a refresh waits for another process's refresh.
var LockWait = 30 * time.Second

// Transport attaches the bearer token, refreshes it before it expires, and after a 401
// refreshes once and replays the request once.
type Transport struct {
	Base http.RoundTripper
	c    *Client
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := t.c
	ctx := req.Context()
	token, err := c.AccessToken(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := t.send(req, token)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || c.static != "" {
		return resp, err
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return resp, nil // the body is spent and cannot be replayed
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	s, err := c.refresh(ctx, token, false)
	if err != nil {
		return nil, err
	}
	return t.send(req, s.AccessToken) // once: a second 401 goes back to the caller as is
}

func (t *Transport) send(req *http.Request, token string) (*http.Response, error) {
	r := req.Clone(req.Context())
	if req.GetBody != nil && req.Body != nil && req.Body != http.NoBody {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		r.Body = body
	}
	r.Header.Set("Authorization", "Bearer "+token)
	r.Header.Set("User-Agent", t.c.ua)
	resp, err := t.Base.RoundTrip(r)
	if err == nil {
		t.c.log(fmt.Sprintf("%s %s → %d", r.Method, r.URL.Path, resp.StatusCode))
	}
	return resp, err
}

// refresh replaces the session whose access token is stale. Within the process one refresh
// runs at a time; across processes a file lock is held from re-reading the keystore until
// the successor is saved. Whoever finds that someone else already replaced stale uses that
// session instead of spending the refresh token again.
func (c *Client) refresh(ctx context.Context, stale string, force bool) (keystore.Session, error) {
	if c.sessions == nil {
		return keystore.Session{}, ErrNotLoggedIn
	}
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()

	if s, err := c.Session(ctx); err != nil {
		return keystore.Session{}, c.keystoreErr(err)
	} else if !force && s.AccessToken != stale && c.fresh(s) {
		return s, nil
	}

	unlock, err := c.lock(ctx)
	if err != nil {
		return keystore.Session{}, err
	}
	defer unlock()

	s, err := c.Session(ctx) // re-read: another process may have rotated meanwhile
	if err != nil {
		return keystore.Session{}, c.keystoreErr(err)
	}
	if !force && s.AccessToken != stale && c.fresh(s) {
		c.log("token refreshed by another process")
		return s, nil
	}
	if s.RefreshToken == "" || !c.now().Before(s.RefreshExpiry) {
		c.sessions.Delete(ctx, c.base)
		return keystore.Session{}, ErrSessionEnded
	}
	var t Tokens
	at := c.now()
	err = c.postJSON(ctx, "/api/auth/refresh", map[string]string{"refresh_token": s.RefreshToken}, &t)
	if errors.Is(err, ErrInvalidGrant) {
		if derr := c.sessions.Delete(ctx, c.base); derr != nil {
			return keystore.Session{}, c.keystoreErr(derr)
		}
		return keystore.Session{}, ErrSessionEnded
	}
	if err != nil {
		return keystore.Session{}, fmt.Errorf("refresh session for %s: %w", c.base, err)
	}
	next := c.sessionFrom(s.Username, t, at)
	if err := c.sessions.Save(ctx, next); err != nil {
		return keystore.Session{}, c.keystoreErr(err)
	}
	c.log("token refreshed")
	return next, nil
}

func (c *Client) keystoreErr(err error) error {
	if errors.Is(err, ErrNotLoggedIn) {
		return err
	}
	return fmt.Errorf("%w: %w", errKeystore, err)
}

// lock takes the per-server refresh lock shared by every authctl process of the user.
func (c *Client) lock(ctx context.Context) (func(), error) {
	dir := c.lockDir
	if dir == "" {
		d, err := keystore.DefaultDir()
		if err != nil {
			return nil, err
		}
		dir = filepath.Join(d, "locks")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create lock dir: %w", err)
	}
	sum := sha256.Sum256([]byte(c.base))
	path := filepath.Join(dir, hex.EncodeToString(sum[:8])+".lock")
	if f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o600); err == nil {
		f.Close()
	}
	fl := flock.New(path)
	lctx, cancel := context.WithTimeout(ctx, LockWait)
	defer cancel()
	ok, err := fl.TryLockContext(lctx, 10*time.Millisecond)
	if err != nil || !ok {
		return nil, fmt.Errorf("wait for another authctl's refresh (lock %s): %w", path, errors.Join(err, lctx.Err()))
	}
	return func() { fl.Unlock() }, nil
}
