// Package client is authctl's HTTP API client. Its transport attaches the stored access
// token, refreshes it shortly before it expires or once after a 401 and replays the request
// once, and coordinates refreshes across goroutines (one mutex) and processes (a file lock
// plus a re-read of the keystore) so that a rotating refresh token is never spent twice.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/authctl/authctl/keystore"
)

// Tokens is the server's token response (RFC 6749 §5.1).
type Tokens struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int    `json:"expires_in"`
	RefreshToken     string `json:"refresh_token"`
	RefreshExpiresIn int    `json:"refresh_expires_in"`
}

// Me is GET /api/auth/me.
type Me struct {
	Sub  string `json:"sub"`
	Name string `json:"name"`
	Role string `json:"role"`
	Exp  int64  `json:"exp"`
	SID  string `json:"sid"`
}

// Forecast is one day of GET /api/weather.
type Forecast struct {
	Date         string `json:"date"`
	TemperatureC int    `json:"temperatureC"`
	TemperatureF int    `json:"temperatureF"`
	Summary      string `json:"summary"`
}

// Error is an error answer from the server: {"error","error_description"} and the status.
type Error struct {
	Status      int
	Code        string
	Description string
	RetryAfter  time.Duration
}

func (e *Error) Error() string {
	msg := e.Description
	if msg == "" {
		msg = e.Code
	}
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("server said %d: %s", e.Status, msg)
}

// Is lets errors.Is match the sentinels by code and status.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrInvalidGrant:
		return e.Code == "invalid_grant"
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	}
	return false
}

// Sentinel errors.
var (
	ErrInvalidGrant = errors.New("invalid grant")
	ErrUnauthorized = errors.New("unauthorized")
	ErrRateLimited  = errors.New("rate limited")
	ErrSessionEnded = errors.New("session expired or revoked — run `authctl login`")
	ErrNotLoggedIn  = errors.New("not logged in — run `authctl login`")
	ErrOffline      = errors.New("server unreachable")
)

// Client talks to one authctl server.
type Client struct {
	base     string
	raw      *http.Client // without the refreshing transport
	sessions keystore.Store
	lockDir  string
	log      func(string)
	skew     time.Duration
	now      func() time.Time
	static   string
	ua       string

	refreshMu sync.Mutex // one refresh at a time in this process
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the underlying HTTP client (its Transport is wrapped, not replaced).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.raw = hc } }

// WithSessions keeps the session in s and enables refreshing.
func WithSessions(s keystore.Store) Option { return func(c *Client) { c.sessions = s } }

// WithLockDir sets where the per-server refresh lock files live.
func WithLockDir(dir string) Option { return func(c *Client) { c.lockDir = dir } }

// WithLog receives one line per HTTP exchange and per refresh; never a secret.
func WithLog(f func(string)) Option { return func(c *Client) { c.log = f } }

// WithSkew sets how long before expiry the access token is refreshed (default 10s).
func WithSkew(d time.Duration) Option { return func(c *Client) { c.skew = d } }

// WithNow sets the clock.
func WithNow(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// WithStaticToken uses tok as the access token as is: no refresh, nothing stored.
func WithStaticToken(tok string) Option { return func(c *Client) { c.static = tok } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.ua = ua } }

// New returns a client for the server at baseURL (normalised, no trailing slash).
func New(baseURL string, opts ...Option) *Client {
	c := &Client{
		base: strings.TrimRight(baseURL, "/"),
		raw:  &http.Client{Timeout: 30 * time.Second},
		skew: 10 * time.Second,
		now:  time.Now,
		log:  func(string) {},
		ua:   "authctl",
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Server is the base URL.
func (c *Client) Server() string { return c.base }

// HTTPClient returns a client whose transport attaches and refreshes the access token.
func (c *Client) HTTPClient() *http.Client {
	base := c.raw.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	return &http.Client{Timeout: c.raw.Timeout, Transport: &Transport{Base: base, c: c}}
}

// do sends a request without the token machinery and decodes a JSON answer into out.
func (c *Client) do(req *http.Request, out any) error {
	req.Header.Set("User-Agent", c.ua)
	resp, err := c.raw.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrOffline, err)
	}
	defer resp.Body.Close()
	c.log(fmt.Sprintf("%s %s → %d", req.Method, req.URL.Path, resp.StatusCode))
	return decodeResponse(resp, out)
}

func decodeResponse(resp *http.Response, out any) error {
	if resp.StatusCode >= 300 {
		return responseError(resp)
	}
	if out == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(out); err != nil {
		return fmt.Errorf("decode %s answer: %w", resp.Request.URL.Path, err)
	}
	return nil
}

// responseError reads an RFC 6749 error body.
func responseError(resp *http.Response) error {
	e := &Error{Status: resp.StatusCode}
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body) == nil {
		e.Code, e.Description = body.Error, body.Description
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}

func (c *Client) postJSON(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return c.do(req, out)
}

func (c *Client) sessionFrom(username string, t Tokens, at time.Time) keystore.Session {
	return keystore.Session{
		Server:        c.base,
		Username:      username,
		AccessToken:   t.AccessToken,
		AccessExpiry:  at.Add(time.Duration(t.ExpiresIn) * time.Second).UTC(),
		RefreshToken:  t.RefreshToken,
		RefreshExpiry: at.Add(time.Duration(t.RefreshExpiresIn) * time.Second).UTC(),
	}
}

// Login exchanges a username and password for a session, stored when Sessions is set.
func (c *Client) Login(ctx context.Context, username, password string) (keystore.Session, error) {
	var t Tokens
	if err := c.postJSON(ctx, "/api/auth/login", map[string]string{"username": username, "password": password}, &t); err != nil {
		return keystore.Session{}, fmt.Errorf("log in to %s: %w", c.base, err)
	}
	s := c.sessionFrom(username, t, c.now())
	if c.sessions != nil {
		if err := c.sessions.Save(ctx, s); err != nil {
			return keystore.Session{}, fmt.Errorf("store the session: %w", err)
		}
	}
	return s, nil
}

// Session returns the stored session.
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

// Refresh rotates the stored session now.
func (c *Client) Refresh(ctx context.Context) (keystore.Session, error) {
	if c.static != "" {
		return keystore.Session{}, errors.New("AUTHCTL_TOKEN is set: nothing to refresh")
	}
	s, err := c.Session(ctx)
	if err != nil {
		return keystore.Session{}, err
	}
	return c.refresh(ctx, s.AccessToken, true)
}

// Logout revokes the session on the server, then deletes it locally. When the server cannot
// be reached it still deletes locally and returns an error wrapping ErrOffline.
func (c *Client) Logout(ctx context.Context) error {
	s, err := c.Session(ctx)
	if err != nil {
		return err
	}
	remote := c.postJSON(ctx, "/api/auth/logout", map[string]string{"refresh_token": s.RefreshToken}, nil)
	if errors.Is(remote, ErrInvalidGrant) {
		remote = nil // already revoked or expired on the server: the goal is reached
	}
	if err := c.sessions.Delete(ctx, c.base); err != nil {
		return fmt.Errorf("delete the local session: %w", err)
	}
	return remote
}

// AccessToken returns an access token valid for at least the skew, refreshing when needed.
func (c *Client) AccessToken(ctx context.Context) (string, error) {
	if c.static != "" {
		return c.static, nil
	}
	s, err := c.Session(ctx)
	if err != nil {
		return "", err
	}
	if c.fresh(s) {
		return s.AccessToken, nil
	}
	s, err = c.refresh(ctx, s.AccessToken, false)
	return s.AccessToken, err
}

func (c *Client) fresh(s keystore.Session) bool {
	return s.AccessToken != "" && c.now().Add(c.skew).Before(s.AccessExpiry)
}

func (c *Client) getJSON(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.HTTPClient().Do(req)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) {
			if inner := ue.Unwrap(); isOwnError(inner) {
				return inner
			}
		}
		return fmt.Errorf("%w: %w", ErrOffline, err)
	}
	defer resp.Body.Close()
	return decodeResponse(resp, out)
}

// isOwnError tells the transport's own errors (keystore, session ended) from network ones.
func isOwnError(err error) bool {
	return errors.Is(err, ErrSessionEnded) || errors.Is(err, ErrNotLoggedIn) || errors.Is(err, errKeystore) || errors.Is(err, ErrOffline)
}

// Me returns who the access token belongs to.
func (c *Client) Me(ctx context.Context) (Me, error) {
	var m Me
	return m, c.getJSON(ctx, "/api/auth/me", &m)
}

// Weather returns the forecast for days days.
func (c *Client) Weather(ctx context.Context, days int) ([]Forecast, error) {
	var f []Forecast
	return f, c.getJSON(ctx, "/api/weather?days="+strconv.Itoa(days), &f)
}
