package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/authctl/authctl/server"
)

// tokenResponse is RFC 6749 §5.1.
type tokenResponse struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int    `json:"expires_in"`
	RefreshToken     string `json:"refresh_token"`
	RefreshExpiresIn int    `json:"refresh_expires_in"`
}

func writeTokens(w http.ResponseWriter, t server.Tokens) {
	noStore(w)
	encode(w, http.StatusOK, tokenResponse{
		AccessToken: t.AccessToken, TokenType: "Bearer", ExpiresIn: t.ExpiresIn,
		RefreshToken: t.RefreshToken, RefreshExpiresIn: t.RefreshExpiresIn,
	})
}

func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func required(fields ...string) error {
	for i := 0; i < len(fields); i += 2 {
		if fields[i+1] == "" {
			return badRequest("missing %s", fields[i])
		}
	}
	return nil
}

func handleLogin(svc *server.Service, log *slog.Logger) http.Handler {
	type request struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[request](r)
		if err == nil {
			err = required("username", req.Username, "password", req.Password)
		}
		if err != nil {
			fail(w, r, log, err)
			return
		}
		t, err := svc.Login(r.Context(), req.Username, req.Password, clientAddr(r))
		if err != nil {
			fail(w, r, log, err)
			return
		}
		writeTokens(w, t)
	})
}

func handleRefresh(svc *server.Service, log *slog.Logger) http.Handler {
	type request struct {
		RefreshToken string `json:"refresh_token"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[request](r)
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

func handleLogout(svc *server.Service, log *slog.Logger) http.Handler {
	type request struct {
		RefreshToken string `json:"refresh_token"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[request](r)
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

type claimsKey struct{}

// requireBearer admits requests carrying a valid access token (RFC 6750 §2.1, the scheme in
// any case) and puts its claims in the context.
func requireBearer(svc *server.Service) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := r.Header.Get("Authorization")
			scheme, token, ok := strings.Cut(h, " ")
			token = strings.TrimSpace(token)
			if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
				w.Header().Set("WWW-Authenticate", `Bearer realm="authctl"`)
				w.Header().Set("Cache-Control", "no-store")
				encode(w, http.StatusUnauthorized, &apiError{Code: "invalid_token", Description: "bearer access token required"})
				return
			}
			claims, err := svc.Authenticate(r.Context(), token)
			if err != nil {
				fail(w, r, nil, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, claims)))
		})
	}
}

func claimsFrom(r *http.Request) *server.AccessClaims {
	c, _ := r.Context().Value(claimsKey{}).(*server.AccessClaims)
	return c
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
		encode(w, http.StatusOK, response{Sub: c.Subject, Name: c.Name, Role: c.Role, Exp: c.ExpiresAt.Unix(), SID: c.SID})
	})
}

// forecast is the demo resource of the classic ASP.NET template.
type forecast struct {
	Date         string `json:"date"`
	TemperatureC int    `json:"temperatureC"`
	TemperatureF int    `json:"temperatureF"`
	Summary      string `json:"summary"`
}

var summaries = [...]string{"Freezing", "Bracing", "Chilly", "Cool", "Mild", "Warm", "Balmy", "Hot", "Sweltering", "Scorching"}

func forecasts(days int, today time.Time) []forecast {
	out := make([]forecast, days)
	for i := range out {
		c := rand.IntN(75) - 20
		out[i] = forecast{
			Date:         today.AddDate(0, 0, i+1).Format(time.DateOnly),
			TemperatureC: c,
			TemperatureF: 32 + int(float64(c)/0.5556),
			Summary:      summaries[rand.IntN(len(summaries))],
		}
	}
	return out
}

func handleWeather(svc *server.Service) http.Handler {
	now := svc.Config().Now
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		days := 5
		if v := r.URL.Query().Get("days"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 14 {
				fail(w, r, nil, badRequest("days must be a whole number from 1 to 14"))
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

// classicTokens is the classic client's {"token","refreshToken"}.
type classicTokens struct {
	Token        string `json:"token"`
	RefreshToken string `json:"refreshToken"`
}

func handleClassicLogin(svc *server.Service, log *slog.Logger) http.Handler {
	type request struct {
		UserName string `json:"userName"`
		Password string `json:"password"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[request](r)
		if err == nil {
			err = required("userName", req.UserName, "password", req.Password)
		}
		if err != nil {
			fail(w, r, log, err)
			return
		}
		t, err := svc.Login(r.Context(), req.UserName, req.Password, clientAddr(r))
		if err != nil {
			fail(w, r, log, err)
			return
		}
		noStore(w)
		encode(w, http.StatusOK, classicTokens{Token: t.AccessToken, RefreshToken: t.RefreshToken})
	})
}

func handleClassicRefresh(svc *server.Service, log *slog.Logger) http.Handler {
	type request struct {
		JWTToken     string `json:"jwtToken"`
		RefreshToken string `json:"refreshToken"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decode[request](r)
		if err == nil {
			err = required("refreshToken", req.RefreshToken)
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
		noStore(w)
		encode(w, http.StatusOK, classicTokens{Token: t.AccessToken, RefreshToken: t.RefreshToken})
	})
}

// parseForm reads an application/x-www-form-urlencoded body, refusing repeated parameters
// (RFC 6749 §3.2).
func parseForm(r *http.Request) error {
	if err := requireContentType(r, "application/x-www-form-urlencoded"); err != nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		if tooLarge(err) {
			return decodeError(err)
		}
		return badRequest("malformed form body")
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			return badRequest("parameter %q repeated", k)
		}
	}
	return nil
}

func handleOAuthToken(svc *server.Service, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := parseForm(r); err != nil {
			fail(w, r, log, err)
			return
		}
		if id := r.PostForm.Get("client_id"); id != "" && id != svc.Config().ClientID {
			fail(w, r, log, &apiError{Status: http.StatusUnauthorized, Code: "invalid_client", Description: "unknown client_id"})
			return
		}
		switch gt := r.PostForm.Get("grant_type"); gt {
		case "":
			fail(w, r, log, badRequest("missing grant_type"))
			return
		case "refresh_token":
		default:
			fail(w, r, log, &apiError{Status: http.StatusBadRequest, Code: "unsupported_grant_type",
				Description: "only the refresh_token grant is supported; log in with POST /api/auth/login"})
			return
		}
		rt := r.PostForm.Get("refresh_token")
		if rt == "" {
			fail(w, r, log, badRequest("missing refresh_token"))
			return
		}
		t, err := svc.Refresh(r.Context(), rt)
		if err != nil {
			fail(w, r, log, err)
			return
		}
		writeTokens(w, t)
	})
}

// handleOAuthRevoke is RFC 7009: 200 whether or not the token was known. A refresh token
// revokes its session; a valid access token revokes its session too.
func handleOAuthRevoke(svc *server.Service, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := parseForm(r); err != nil {
			fail(w, r, log, err)
			return
		}
		tok := r.PostForm.Get("token")
		if tok == "" {
			fail(w, r, log, badRequest("missing token"))
			return
		}
		err := svc.Logout(r.Context(), tok)
		if errors.Is(err, server.ErrInvalidGrant) && strings.Count(tok, ".") == 2 {
			err = svc.RevokeAccessToken(r.Context(), tok)
		}
		if err != nil && !errors.Is(err, server.ErrInvalidGrant) && !errors.Is(err, server.ErrInvalidToken) && !errors.Is(err, server.ErrTokenExpired) {
			fail(w, r, log, err)
			return
		}
		noStore(w)
		w.WriteHeader(http.StatusOK)
	})
}

func handleJWKS(svc *server.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		encode(w, http.StatusOK, svc.JWKS())
	})
}

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
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		base := strings.TrimRight(cfg.Issuer, "/")
		if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
			scheme := "http"
			if r.TLS != nil {
				scheme = "https"
			}
			base = scheme + "://" + r.Host
		}
		issuer := cfg.Issuer
		if issuer == "" {
			issuer = base
		}
		encode(w, http.StatusOK, metadata{
			Issuer:                issuer,
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

func handleHealth(svc *server.Service, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := svc.Health(r.Context()); err != nil {
			fail(w, r, log, err)
			return
		}
		encode(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

func handleNotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusNotFound, &apiError{Code: "not_found", Description: "no such endpoint: " + r.Method + " " + r.URL.Path})
	})
}
