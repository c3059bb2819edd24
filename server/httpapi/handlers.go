package httpapi

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/authctl/authctl/server"
)

// Bounds on login fields. No account can have a longer name (server.AddUser allows 64), and
// refusing absurd input here keeps it out of the limiter's keys and the logs.
const (
	maxUsername = 256
	maxPassword = 4096
)

// tokenResponse is RFC 6749 §5.1.
type tokenResponse struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int    `json:"expires_in"`
	RefreshToken     string `json:"refresh_token"`
	RefreshExpiresIn int    `json:"refresh_expires_in"`
}

// classicTokens is the classic client's {"token","refreshToken"}.
type classicTokens struct {
	Token        string `json:"token"`
	RefreshToken string `json:"refreshToken"`
}

func writeTokens(w http.ResponseWriter, t server.Tokens) {
	noStore(w)
	encode(w, http.StatusOK, tokenResponse{
		AccessToken: t.AccessToken, TokenType: "Bearer", ExpiresIn: t.ExpiresIn,
		RefreshToken: t.RefreshToken, RefreshExpiresIn: t.RefreshExpiresIn,
	})
}

func writeClassicTokens(w http.ResponseWriter, t server.Tokens) {
	noStore(w)
	encode(w, http.StatusOK, classicTokens{Token: t.AccessToken, RefreshToken: t.RefreshToken})
}

// noStore is RFC 6749 §5.1: answers carrying tokens must not be cached, by HTTP/1.1 caches
// (Cache-Control) or HTTP/1.0 ones (Pragma).
func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

// required takes name, value pairs and reports the first empty value as invalid_request.
func required(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			return badRequest("missing %s", pairs[i])
		}
	}
	return nil
}

// checkCredentials is the request-level validation both login endpoints share.
func checkCredentials(userField, username, password string) error {
	if err := required(userField, username, "password", password); err != nil {
		return err
	}
	if len(username) > maxUsername || len(password) > maxPassword {
		return badRequest("%s or password too long", userField)
	}
	return nil
}

func handleLogin(svc *server.Service, log *slog.Logger) http.Handler {
	return handleLoginWith[loginRequest](svc, log, func(w http.ResponseWriter, _ *http.Request, t server.Tokens) { writeTokens(w, t) })
}

// refreshRequest is the body of /api/auth/refresh and /api/auth/logout.
type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

func handleRefresh(svc *server.Service, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[refreshRequest](r)
		if err == nil {
			err = required("refresh_token", req.RefreshToken)
		}
		if err != nil {
			fail(w, r, log, err)
			return
		}
		t, err := svc.Refresh(r.Context(), req.RefreshToken)
		if err != nil {
			fail(w, r, log, err)
			return
		}
		writeTokens(w, t)
	})
}

// handleLogout revokes the session. Unlike RFC 7009 revocation, an unknown token is an
// error here (400 invalid_grant): the first-party client wants to know, and treats it as
// "already logged out".
func handleLogout(svc *server.Service, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[refreshRequest](r)
		if err == nil {
			err = required("refresh_token", req.RefreshToken)
		}
		if err == nil {
			err = svc.Logout(r.Context(), req.RefreshToken)
		}
		if err != nil {
			fail(w, r, log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func handleMe() http.Handler {
	type response struct {
		Sub  string `json:"sub"`
		Name string `json:"name"`
		Role string `json:"role"`
		Exp  int64  `json:"exp"`
		SID  string `json:"sid"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := claimsFrom(r)
		var exp int64
		if c.ExpiresAt != nil {
			exp = c.ExpiresAt.Unix()
		}
		w.Header().Set("Cache-Control", "no-store")
		encode(w, http.StatusOK, response{Sub: c.Subject, Name: c.Name, Role: c.Role, Exp: exp, SID: c.SID})
	})
}

// forecast is the demo resource of the classic ASP.NET Core template.
type forecast struct {
	Date         string `json:"date"`
	TemperatureC int    `json:"temperatureC"`
	TemperatureF int    `json:"temperatureF"`
	Summary      string `json:"summary"`
}

var summaries = [...]string{"Freezing", "Bracing", "Chilly", "Cool", "Mild", "Warm", "Balmy", "Hot", "Sweltering", "Scorching"}

// forecasts invents days of weather the way the ASP.NET template does: the first day is
// tomorrow (Enumerable.Range(1, n)), −20…54 °C, and °F = 32 + (int)(C / 0.5556), truncating.
func forecasts(days int, today time.Time) []forecast {
	out := make([]forecast, days)
	for i := range out {
		c := rand.IntN(75) - 20
		out[i] = forecast{
			Date:         today.AddDate(0, 0, i+1).Format(time.DateOnly),
			TemperatureC: c,
			TemperatureF: fahrenheit(c),
			Summary:      summaries[rand.IntN(len(summaries))],
		}
	}
	return out
}

func fahrenheit(c int) int { return 32 + int(float64(c)/0.5556) }

func handleWeather(svc *server.Service, log *slog.Logger) http.Handler {
	now := svc.Config().Now
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		days := 5
		if v := r.URL.Query().Get("days"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 14 || strings.TrimLeft(v, "0123456789") != "" {
				fail(w, r, log, badRequest("days must be a whole number from 1 to 14"))
				return
			}
			days = n
		}
		encode(w, http.StatusOK, forecasts(days, now()))
	})
}

func handleClassicWeather(svc *server.Service) http.Handler {
	now := svc.Config().Now
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusOK, forecasts(5, now()))
	})
}

// classicLoginRequest is the classic client's login body: the same credentials under the
// name ASP.NET bound them to.
type classicLoginRequest struct {
	UserName string `json:"userName"`
	Password string `json:"password"`
}

func (q classicLoginRequest) credentials() (string, string, string) {
	return "userName", q.UserName, q.Password
}

func handleClassicLogin(svc *server.Service, log *slog.Logger) http.Handler {
	return handleLoginWith[classicLoginRequest](svc, log, func(w http.ResponseWriter, _ *http.Request, t server.Tokens) { writeClassicTokens(w, t) })
}

func handleClassicRefresh(svc *server.Service, log *slog.Logger) http.Handler {
	type request struct {
		JWTToken     string `json:"jwtToken"`
		RefreshToken string `json:"refreshToken"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[request](r)
		if err == nil {
			// jwtToken is required: without it the check that the session belongs to the
			// token's user would be skipped, and the classic client always sends it.
			err = required("jwtToken", req.JWTToken, "refreshToken", req.RefreshToken)
		}
		if err != nil {
			fail(w, r, log, err)
			return
		}
		t, err := svc.RefreshClassic(r.Context(), req.JWTToken, req.RefreshToken)
		if err != nil {
			fail(w, r, log, err)
			return
		}
		writeClassicTokens(w, t)
	})
}

// parseForm reads an application/x-www-form-urlencoded body into r.PostForm, refusing
// repeated parameters (RFC 6749 §3.2). Query parameters are never read: credentials do not
// belong in URLs.
func parseForm(r *http.Request) error {
	if err := requireContentType(r, "application/x-www-form-urlencoded"); err != nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		if tooLarge(err) {
			return errTooLarge()
		}
		return badRequest("malformed form body")
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			return badRequest("parameter %q given more than once", k)
		}
	}
	return nil
}

// checkClient admits the one public client (RFC 6749 §2.1), identified by a client_id
// parameter, by HTTP Basic with an empty secret (what OAuth libraries send in their
// header-auth mode, the id form-encoded per §2.3.1), or not at all. Basic credentials that
// do not even decode are a failed client authentication (§5.2), not an absent one: a client
// that meant to authenticate must learn that it did not.
func checkClient(r *http.Request, want string) error {
	id := r.PostForm.Get("client_id")
	if scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " "); strings.EqualFold(scheme, "Basic") {
		if _, _, ok := r.BasicAuth(); !ok {
			return &apiError{Status: http.StatusUnauthorized, Code: "invalid_client", Description: "malformed Basic client credentials"}
		}
	}
	if user, pass, ok := r.BasicAuth(); ok {
		u, err1 := url.QueryUnescape(user)
		p, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil || u != want || p != "" || (id != "" && id != u) {
			return &apiError{Status: http.StatusUnauthorized, Code: "invalid_client", Description: "unknown client; the public client is " + want}
		}
		return nil
	}
	if id != "" && id != want {
		return &apiError{Status: http.StatusUnauthorized, Code: "invalid_client", Description: "unknown client_id; the public client is " + want}
	}
	return nil
}

// parseClientForm reads an OAuth form body and checks the client authentication it carries:
// what the token and revocation endpoints both do first.
func parseClientForm(r *http.Request, clientID string) error {
	if err := parseForm(r); err != nil {
		return err
	}
	return checkClient(r, clientID)
}

// handleOAuthToken is the RFC 6749 token endpoint with the refresh_token grant only. The
// password grant is absent on purpose (RFC 9700 §2.4); password login is /api/auth/login.
func handleOAuthToken(svc *server.Service, log *slog.Logger) http.Handler {
	clientID := svc.Config().ClientID
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := parseClientForm(r, clientID)
		if err == nil {
			switch gt := r.PostForm.Get("grant_type"); gt {
			case "refresh_token":
				err = required("refresh_token", r.PostForm.Get("refresh_token"))
			case "":
				err = badRequest("missing grant_type")
			default:
				err = &apiError{Status: http.StatusBadRequest, Code: "unsupported_grant_type",
					Description: "only the refresh_token grant is supported; log in with POST /api/auth/login"}
			}
		}
		if err != nil {
			fail(w, r, log, err)
			return
		}
		t, err := svc.Refresh(r.Context(), r.PostForm.Get("refresh_token"))
		if err != nil {
			fail(w, r, log, err)
			return
		}
		writeTokens(w, t)
	})
}

// handleOAuthRevoke is RFC 7009: 200 whether or not the token was known, so that the
// answer tells a token thief nothing. server.Service.Revoke tells the two kinds of token
// apart by form, so token_type_hint is accepted and not needed. A refresh token revokes its
// whole session; so does an access token that still verifies (its sid is refused from then
// on); anything else is ignored, since it grants nothing.
func handleOAuthRevoke(svc *server.Service, log *slog.Logger) http.Handler {
	clientID := svc.Config().ClientID
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := parseClientForm(r, clientID)
		tok := r.PostForm.Get("token")
		if err == nil {
			err = required("token", tok)
		}
		if err != nil {
			fail(w, r, log, err)
			return
		}
		if err := svc.Revoke(r.Context(), tok); err != nil {
			fail(w, r, log, err) // the store is down: 503, and the client may retry (RFC 7009 §2.2.1)
			return
		}
		noStore(w)
		w.WriteHeader(http.StatusOK)
	})
}

func handleJWKS(svc *server.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		set := svc.JWKS()
		if set.Keys == nil {
			set.Keys = []server.JWK{} // HS256: an empty set, not null
		}
		// Short, so that verifiers notice a rotated key soon; they refetch on an unknown kid.
		w.Header().Set("Cache-Control", "public, max-age=60")
		encode(w, http.StatusOK, set)
	})
}

// metadataMaxAge is how long the metadata may be cached. It changes only when the server is
// restarted with another configuration, and clients fetch it once per session or so.
const metadataMaxAge = "public, max-age=300"

// metadataBase is the base of the endpoint URLs in the RFC 8414 metadata: the configured
// public URL, else the issuer when it is a URL (RFC 8414 §3.3 wants the two equal); "" when
// neither is. Never the Host header of a request, which any client chooses: a cached or
// proxied metadata document built from it could send token requests to another host.
func metadataBase(cfg Config) string {
	for _, u := range []string{cfg.PublicURL, cfg.Issuer} {
		if p, err := url.Parse(u); err == nil && (p.Scheme == "http" || p.Scheme == "https") && p.Host != "" {
			return strings.TrimRight(u, "/")
		}
	}
	return ""
}

// metadataPaths are where the metadata is served: the well-known path and, for an issuer
// with a path component, the RFC 8414 §3.1 form with that path appended, which is where
// clients that derive the location from the issuer look.
func metadataPaths(cfg Config) []string {
	paths := []string{"/.well-known/oauth-authorization-server"}
	if u, err := url.Parse(cfg.Issuer); err == nil && u.Host != "" {
		if p := strings.TrimRight(u.EscapedPath(), "/"); p != "" {
			paths = append(paths, paths[0]+p)
		}
	}
	return paths
}

// handleMetadata is RFC 8414: the issuer exactly as the tokens carry it, and the endpoint
// URLs under metadataBase.
func handleMetadata(cfg Config) http.Handler {
	type metadata struct {
		Issuer                string   `json:"issuer"`
		TokenEndpoint         string   `json:"token_endpoint"`
		RevocationEndpoint    string   `json:"revocation_endpoint"`
		JWKSURI               string   `json:"jwks_uri"`
		GrantTypes            []string `json:"grant_types_supported"`
		ResponseTypes         []string `json:"response_types_supported"`
		TokenAuthMethods      []string `json:"token_endpoint_auth_methods_supported"`
		RevocationAuthMethods []string `json:"revocation_endpoint_auth_methods_supported"`
	}
	base := metadataBase(cfg)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if base == "" {
			encode(w, http.StatusNotFound, &apiError{Code: "not_found",
				Description: "no metadata: the issuer is not a URL and no public URL is configured (--public-url)"})
			return
		}
		w.Header().Set("Cache-Control", metadataMaxAge)
		encode(w, http.StatusOK, metadata{
			Issuer:                cfg.Issuer,
			TokenEndpoint:         base + "/oauth/token",
			RevocationEndpoint:    base + "/oauth/revoke",
			JWKSURI:               base + "/.well-known/jwks.json",
			GrantTypes:            []string{"refresh_token"},
			ResponseTypes:         []string{},
			TokenAuthMethods:      []string{"none"},
			RevocationAuthMethods: []string{"none"},
		})
	})
}

// healthStatus is the body of a healthy /healthz or /readyz.
type healthStatus struct {
	Status string `json:"status"`
}

// handleLive is /healthz, liveness: the process is up and serving HTTP. It asks nothing of
// the store, so a stalled database cannot make it hang, and an orchestrator does not
// restart a healthy process because its database is away; that is /readyz's business.
func handleLive() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		encode(w, http.StatusOK, healthStatus{Status: "ok"})
	})
}

// readyTimeout bounds /readyz's probe, so that a stalled database gives a prompt 503
// rather than a probe that times out on the caller's side.
const readyTimeout = 2 * time.Second

// handleReady is /readyz: 200 only when the store takes a write and the signing keys are
// loaded (Service.Ready), else 503 with Retry-After. The answer names no cause, since the
// endpoint is open to anyone; the log does, once per change rather than per probe, as
// orchestrators probe every few seconds.
func handleReady(svc *server.Service, log *slog.Logger) http.Handler {
	var down atomic.Bool
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := svc.Ready(ctx); err != nil {
			if !down.Swap(true) {
				log.Warn("not ready", "err", err)
			}
			w.Header().Set("Retry-After", "1")
			encode(w, http.StatusServiceUnavailable, &apiError{Code: "temporarily_unavailable",
				Description: "not ready: the database does not take writes or the signing keys are not loaded"})
			return
		}
		if down.Swap(false) {
			log.Info("ready again")
		}
		encode(w, http.StatusOK, healthStatus{Status: "ok"})
	})
}

// handleNoRoute answers what no pattern matched: 405 with Allow when the path exists under
// other methods, else 404, both as JSON like every other error. It asks the mux itself, so
// the answer cannot drift from routes.go.
func handleNoRoute(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" {
				allow = append(allow, m)
				if m == http.MethodGet {
					allow = append(allow, http.MethodHead)
				}
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			encode(w, http.StatusMethodNotAllowed, &apiError{Code: "invalid_request", Description: "method " + r.Method + " not allowed"})
			return
		}
		encode(w, http.StatusNotFound, &apiError{Code: "not_found", Description: "no such endpoint"})
	})
}
