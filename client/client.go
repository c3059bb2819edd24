package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/authctl/authctl/keystore"
)

// Client talks to one authctl server. It is safe for concurrent use.
type Client struct {
	base     string
	hc       *http.Client // plain: login, refresh, logout
	authed   *http.Client // through the refreshing transport
	sessions keystore.Store
	lockDir  string
	lockWait time.Duration
	log      func(string)
	skew     time.Duration
	now      func() time.Time
	static   string
	ua       string
	insecure bool // plain http:// to any host is allowed (WithInsecureHTTP)

	// refreshing admits one refresh at a time in this process; a channel rather than a
	// mutex so that waiting for it honours the request's context.
	refreshing chan struct{}
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the underlying HTTP client. Its Transport is wrapped, not replaced,
// and its Timeout and CheckRedirect apply to every call.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithSessions keeps the server's session in s and enables the refreshing transport.
func WithSessions(s keystore.Store) Option { return func(c *Client) { c.sessions = s } }

// WithLockDir sets the directory of the per-server refresh lock files (created 0700).
// Every authctl process of a user must use the same one; the default is
// os.UserConfigDir()/authctl/locks.
func WithLockDir(dir string) Option { return func(c *Client) { c.lockDir = dir } }

// WithLockWait bounds how long a refresh waits for another process's refresh (default 30s).
func WithLockWait(d time.Duration) Option { return func(c *Client) { c.lockWait = d } }

// WithLog receives one line per HTTP exchange (method, path, status) and per refresh, for
// -v. It never receives a token or a password. It may be called from several goroutines.
func WithLog(f func(msg string)) Option { return func(c *Client) { c.log = f } }

// WithSkew sets how long before its expiry the access token is refreshed (default 10s).
func WithSkew(d time.Duration) Option { return func(c *Client) { c.skew = d } }

// WithNow sets the clock that judges and records expiry times.
func WithNow(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// WithStaticToken uses tok as the bearer token as is (AUTHCTL_TOKEN): no refresh, nothing
// stored, a 401 is returned as is.
func WithStaticToken(tok string) Option { return func(c *Client) { c.static = tok } }

// WithUserAgent sets the User-Agent header (default "authctl").
func WithUserAgent(ua string) Option { return func(c *Client) { c.ua = ua } }

// New returns a client for the server at baseURL, normalised as keystore.NormalizeServer
// does (lower-case scheme and host, no default port, no trailing slash) so that it names
// the same keystore entry and lock file as every other authctl process.
func New(baseURL string, opts ...Option) *Client {
	base, err := keystore.NormalizeServer(baseURL)
	if err != nil {
		base = strings.TrimRight(strings.TrimSpace(baseURL), "/") // requests will say what is wrong
	}
	c := &Client{
		base:       base,
		hc:         &http.Client{Timeout: 30 * time.Second},
		lockWait:   30 * time.Second,
		log:        func(string) {},
		skew:       10 * time.Second,
		now:        time.Now,
		ua:         "authctl",
		refreshing: make(chan struct{}, 1),
	}
	for _, o := range opts {
		o(c)
	}
	rt := c.hc.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	// Both clients go through the guard, so no exchange — a call of this package, a
	// refresh, a replay or a redirect — sends anything in clear beyond this machine.
	rt = guard{base: rt, insecure: c.insecure}
	plain := *c.hc
	plain.Transport = rt
	plain.CheckRedirect = refuseCrossOriginRedirects(plain.CheckRedirect)
	c.hc = &plain
	authed := *c.hc
	authed.Transport = &transport{base: rt, c: c}
	c.authed = &authed
	return c
}

// Server is the normalised base URL.
func (c *Client) Server() string { return c.base }

// HTTPClient returns an *http.Client whose transport attaches the access token to requests
// for this server and refreshes it as the package documentation describes.
func (c *Client) HTTPClient() *http.Client { return c.authed }

// Session returns the stored session, or ErrNotLoggedIn.
func (c *Client) Session(ctx context.Context) (keystore.Session, error) {
	if c.sessions == nil {
		return keystore.Session{}, ErrNotLoggedIn
	}
	s, err := c.sessions.Load(ctx, c.base)
	if errors.Is(err, keystore.ErrNotFound) {
		return keystore.Session{}, ErrNotLoggedIn
	}
	if err != nil {
		return keystore.Session{}, fmt.Errorf("read the session for %s: %w", c.base, err)
	}
	return s, nil
}

// Login exchanges a username and password for a session, and stores it when the client
// has a keystore (WithSessions). The session it replaces is revoked on the server, as
// LoginReplacing says.
func (c *Client) Login(ctx context.Context, username, password string) (keystore.Session, error) {
	r, err := c.LoginReplacing(ctx, username, password)
	return r.Session, err
}

// LoginResult is what LoginReplacing did.
type LoginResult struct {
	Session keystore.Session // the new session, stored
	// Replaced is the session stored before, if there was one; RevokeErr is why revoking
	// it on the server failed (nil when it was revoked, or already over).
	Replaced  *keystore.Session
	RevokeErr error
}

// replacedRevokeWait bounds the best-effort revocation of a replaced session, so that a
// slow answer to it never holds up the login that has already succeeded.
const replacedRevokeWait = 5 * time.Second

// LoginReplacing logs in as Login does and then revokes the session it replaced on the
// server, best effort: a login that leaves the old session alive would leave a refresh
// token valid for weeks that nobody holds any more.
//
// With a keystore the login runs under the refresh lock: a refresh in flight in another
// process saves the successor of the old session when its answer arrives, and without
// the lock that save could land after this one and overwrite the new session. Reading the
// old session under the lock also means its refresh token is the current one, not one a
// refresh elsewhere already rotated (revoking with that would look like token theft).
func (c *Client) LoginReplacing(ctx context.Context, username, password string) (LoginResult, error) {
	var old *keystore.Session
	if c.sessions != nil {
		// Taken before the request, so a lock held elsewhere for too long fails the
		// login before the server has opened a session nobody would keep.
		release, err := c.exclusive(ctx)
		if err != nil {
			return LoginResult{}, fmt.Errorf("log in to %s: %w", c.base, err)
		}
		defer release()
		if s, err := c.sessions.Load(ctx, c.base); err == nil {
			old = &s
		}
	}
	var t Tokens
	in := map[string]string{"username": username, "password": password}
	if err := c.postJSON(ctx, "/api/auth/login", in, &t); err != nil {
		return LoginResult{}, fmt.Errorf("log in to %s: %w", c.base, err)
	}
	if t.AccessToken == "" || t.RefreshToken == "" {
		return LoginResult{}, fmt.Errorf("log in to %s: the token response lacks a token", c.base)
	}
	r := LoginResult{Session: c.sessionFrom(username, t, c.now()), Replaced: old}
	if c.sessions != nil {
		if old != nil {
			// Deleted first so that a keystore with more than one place (auto) stores
			// the new session where a new one goes, not where the old one happened to be.
			if err := c.sessions.Delete(ctx, c.base); err != nil {
				c.log("could not delete the replaced session before storing the new one")
			}
		}
		if err := c.sessions.Save(ctx, r.Session); err != nil {
			return LoginResult{}, fmt.Errorf("store the session for %s: %w", c.base, err)
		}
	}
	if old != nil && old.RefreshToken != "" {
		rctx, cancel := context.WithTimeout(ctx, replacedRevokeWait)
		defer cancel()
		err := c.postJSON(rctx, "/api/auth/logout", map[string]string{"refresh_token": old.RefreshToken}, nil)
		if errors.Is(err, ErrInvalidGrant) {
			err = nil // expired or revoked already: nothing left to end
		}
		r.RevokeErr = err
		if err != nil {
			c.log("could not revoke the replaced session: " + err.Error())
		} else {
			c.log("revoked the replaced session")
		}
	}
	return r, nil
}

// Do sends req through the refreshing transport, as HTTPClient().Do does, with failures
// worded as the rest of this package words them: an unreachable server matches
// ErrOffline (and ErrTLS), a session that cannot be refreshed ErrSessionEnded. The
// response is the server's, whatever its status.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.authed.Do(req)
	if err != nil {
		return nil, c.doErr(err)
	}
	return resp, nil
}

// doErr unwraps the *url.Error of an exchange through the refreshing transport, whose
// own errors already say what happened (the URL adds nothing), and wraps the http.Client's
// own timeout as a failure to reach the server.
func (c *Client) doErr(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	if ue.Timeout() && !errors.Is(ue.Err, ErrOffline) {
		return offline(err)
	}
	return ue.Err
}

// Refresh rotates the stored session now, under the same lock and re-read protocol as the
// transport, and returns the new session.
func (c *Client) Refresh(ctx context.Context) (keystore.Session, error) {
	if c.static != "" {
		return keystore.Session{}, ErrStaticToken
	}
	s, err := c.Session(ctx)
	if err != nil {
		return keystore.Session{}, err
	}
	return c.refresh(ctx, s, true)
}

// Logout revokes the stored session on the server, then deletes it locally. The local
// session is deleted whatever the server answers; when the server cannot be reached the
// error wraps ErrOffline (the session then stays valid on the server until it expires).
func (c *Client) Logout(ctx context.Context) error {
	if c.static != "" {
		return ErrStaticToken
	}
	if _, err := c.Session(ctx); err != nil {
		return err
	}
	// Under the refresh lock, so that no refresh running elsewhere saves a successor after
	// the delete and brings the session back.
	release, err := c.exclusive(ctx)
	if err != nil {
		return err
	}
	defer release()
	s, err := c.Session(ctx)
	if err != nil {
		return err
	}
	remote := c.postJSON(ctx, "/api/auth/logout", map[string]string{"refresh_token": s.RefreshToken}, nil)
	if errors.Is(remote, ErrInvalidGrant) {
		remote = nil // already expired or revoked on the server: nothing left to revoke
	}
	if err := c.sessions.Delete(ctx, c.base); err != nil {
		return fmt.Errorf("delete the session for %s: %w", c.base, err)
	}
	if remote != nil {
		return fmt.Errorf("revoke the session on %s: %w", c.base, remote)
	}
	return nil
}

// AccessToken returns an access token valid for at least the skew, refreshing the session
// when needed (or the static token as is).
func (c *Client) AccessToken(ctx context.Context) (string, error) {
	if c.static != "" {
		return c.static, nil
	}
	s, err := c.validSession(ctx)
	return s.AccessToken, err
}

// sessionFrom turns a token response received at the client time at into a session. An
// absent lifetime leaves the expiry zero, which means unknown, not expired.
func (c *Client) sessionFrom(username string, t Tokens, at time.Time) keystore.Session {
	s := keystore.Session{
		Server:       c.base,
		Username:     username,
		AccessToken:  t.AccessToken,
		RefreshToken: t.RefreshToken,
	}
	if t.ExpiresIn > 0 {
		s.AccessExpiry = at.Add(time.Duration(t.ExpiresIn) * time.Second).UTC()
	}
	if t.RefreshExpiresIn > 0 {
		s.RefreshExpiry = at.Add(time.Duration(t.RefreshExpiresIn) * time.Second).UTC()
	}
	return s
}
