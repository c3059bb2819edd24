package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/authctl/authctl/server"
)

// Browser mode of the auth endpoints (README "Browser").
//
// A page script must never be able to read the refresh token, so for the built-in web client
// it travels only in an HttpOnly cookie, and the token response body leaves it out. A client
// asks for that mode with the static header below; without it the endpoints neither read nor
// set the cookie, and the JSON contract for every other client stays exactly as it was.
//
// A cookie is sent by the browser on its own, so cookie-carrying calls must prove they come
// from our own page (CSRF):
//   - the custom header: a cross-site form cannot set it, and a cross-site fetch that sets it
//     needs a CORS preflight, which only --cors-origin origins pass;
//   - and a same-origin check: Sec-Fetch-Site, when the browser sends it, must be
//     "same-origin", and Origin, when sent, must be our own origin; one of the two must be
//     there. That shuts out even the --cors-origin pages, which are trusted with bearer tokens
//     but not with the cookie.
const browserHeader = "X-Authctl-Browser"

// Cookie names. Under TLS the __Host- prefix makes the browser insist on Secure, Path=/ and
// no Domain, so neither a sibling subdomain nor a plain-http page can plant or shadow it
// (RFC 6265bis §4.1.3.2). Plain http (the loopback quick start) cannot use the prefix, so the
// cookie is narrowed to the auth endpoints instead: no other path ever receives it.
const (
	cookieName       = "authctl_refresh"
	secureCookieName = "__Host-authctl_refresh"
	cookiePath       = "/api/auth"
)

// browserSessions serves the browser mode of login, refresh and logout. The endpoints are
// thin adapters over the same Service methods as the JSON ones.
type browserSessions struct {
	svc *server.Service
	log *slog.Logger
	// own is our origin (scheme://host[:port]) from Config.PublicURL; "" means the origin the
	// request itself was sent to.
	own    string
	secure bool // PublicURL is https: cookies are Secure even behind a TLS-terminating proxy
}

func newBrowserSessions(svc *server.Service, cfg Config, log *slog.Logger) *browserSessions {
	b := &browserSessions{svc: svc, log: log}
	if u, err := url.Parse(cfg.PublicURL); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		b.own = u.Scheme + "://" + u.Host
		b.secure = u.Scheme == "https"
	}
	return b
}

// or routes a request carrying the browser header to browser, once it has passed the
// same-origin check every cookie-carrying call must pass; anything else goes to native.
func (b *browserSessions) or(browser, native http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(browserHeader) == "" {
			native.ServeHTTP(w, r)
			return
		}
		if err := b.checkSameOrigin(r); err != nil {
			fail(w, r, b.log, err)
			return
		}
		browser.ServeHTTP(w, r)
	})
}

// browserTokens is the token response without the refresh token, which went into the cookie.
type browserTokens struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int    `json:"expires_in"`
	RefreshExpiresIn int    `json:"refresh_expires_in"`
}

func (b *browserSessions) login() http.Handler {
	return handleLoginWith[loginRequest](b.svc, b.log, b.writeTokens)
}

// refresh rotates the refresh token in the cookie. The body is not read: the cookie is the
// only credential, so that a page cannot be talked into sending a token it should not have.
func (b *browserSessions) refresh() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt, ok := b.readCookie(r)
		if !ok {
			// Distinct from invalid_grant so that the page can tell "never logged in here"
			// (show the login form) from "your session ended" (say so).
			fail(w, r, b.log, badRequest("no session cookie"))
			return
		}
		t, err := b.svc.Refresh(r.Context(), rt)
		if err != nil {
			if errors.Is(err, server.ErrInvalidGrant) {
				b.clearCookie(w, r) // dead for good: stop the browser from sending it
			}
			fail(w, r, b.log, err)
			return
		}
		b.writeTokens(w, r, t)
	})
}

// logout revokes the session in the cookie and always clears the cookie: a session that is
// already gone is logged out all the same, so the answer is 204 then too.
func (b *browserSessions) logout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt, ok := b.readCookie(r); ok {
			if err := b.svc.Logout(r.Context(), rt); err != nil && !errors.Is(err, server.ErrInvalidGrant) {
				fail(w, r, b.log, err) // the store is down: keep the cookie, the page may retry
				return
			}
		}
		b.clearCookie(w, r)
		noStore(w)
		w.WriteHeader(http.StatusNoContent)
	})
}

// checkSameOrigin is the CSRF defence described at browserHeader.
func (b *browserSessions) checkSameOrigin(r *http.Request) error {
	site := r.Header.Get("Sec-Fetch-Site")
	origin := r.Header.Get("Origin")
	switch {
	case site != "" && site != "same-origin":
		return csrfError("the request does not come from this server's own page")
	case origin != "" && origin != b.origin(r):
		return csrfError("the request does not come from this server's own origin")
	case site == "" && origin == "":
		return csrfError("the request does not say where it comes from (Origin or Sec-Fetch-Site)")
	}
	return nil
}

func csrfError(description string) *apiError {
	return &apiError{Status: http.StatusForbidden, Code: "invalid_request", Description: description}
}

// origin is ours: the configured public URL's, else the one this request was sent to. The
// latter is sound for the check it serves: a browser always sends Host as the server it
// connects to, and a page on another origin cannot change it.
func (b *browserSessions) origin(r *http.Request) string {
	if b.own != "" {
		return b.own
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// tls says whether the browser reaches us over https, which decides the cookie's form.
func (b *browserSessions) tls(r *http.Request) bool { return b.secure || r.TLS != nil }

func (b *browserSessions) readCookie(r *http.Request) (string, bool) {
	name := cookieName
	if b.tls(r) {
		name = secureCookieName
	}
	c, err := r.Cookie(name)
	if err != nil || c.Value == "" {
		return "", false
	}
	return c.Value, true
}

// setCookie writes the refresh-token cookie. maxAge > 0 is a lifetime in seconds, < 0
// deletes the cookie (Max-Age=0 on the wire).
func (b *browserSessions) setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	c := &http.Cookie{
		Name: cookieName, Value: value, Path: cookiePath, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode,
	}
	if b.tls(r) {
		c.Name, c.Path, c.Secure = secureCookieName, "/", true
	}
	http.SetCookie(w, c)
}

func (b *browserSessions) clearCookie(w http.ResponseWriter, r *http.Request) {
	b.setCookie(w, r, "", -1)
}

// writeTokens puts the refresh token into the cookie and the rest into the body. The cookie
// lives exactly as long as the session may (the family's absolute expiry, counted by the
// Service), never longer, and at least a second: Max-Age 0 would delete it, and no Max-Age
// at all would make it a session cookie with no bound.
func (b *browserSessions) writeTokens(w http.ResponseWriter, r *http.Request, t server.Tokens) {
	b.setCookie(w, r, t.RefreshToken, max(t.RefreshExpiresIn, 1))
	noStore(w)
	encode(w, http.StatusOK, browserTokens{
		AccessToken: t.AccessToken, TokenType: "Bearer", ExpiresIn: t.ExpiresIn, RefreshExpiresIn: t.RefreshExpiresIn,
	})
}
