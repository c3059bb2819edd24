package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/authctl/authctl/server"
)

// addRoutes is the whole API surface. The native, classic and OAuth endpoints are thin
// adapters over the same Service methods; no token logic lives here twice.
func addRoutes(mux *http.ServeMux, svc *server.Service, cfg Config, log *slog.Logger) {
	bearer := requireBearer(svc, log)
	browser := newBrowserSessions(svc, cfg, log)

	// Native JSON API (the authctl client); with the X-Authctl-Browser header, the cookie
	// mode of the built-in web client (browser.go).
	mux.Handle("POST /api/auth/login", browser.or(browser.login(), handleLogin(svc, log)))
	mux.Handle("POST /api/auth/refresh", browser.or(browser.refresh(), handleRefresh(svc, log)))
	mux.Handle("POST /api/auth/logout", browser.or(browser.logout(), handleLogout(svc, log)))
	mux.Handle("GET /api/auth/me", bearer(handleMe()))
	mux.Handle("GET /api/weather", bearer(handleWeather(svc, log)))

	// Sessions (sessions.go): mine, and for role admin anyone's.
	mux.Handle("GET /api/auth/sessions", bearer(handleMySessions(svc, log)))
	mux.Handle("DELETE /api/auth/sessions/{id}", bearer(handleRevokeMySession(svc, log)))
	mux.Handle("GET /api/admin/users/{name}/sessions", bearer(handleUserSessions(svc, log)))
	mux.Handle("DELETE /api/admin/users/{name}/sessions", bearer(handleRevokeUserSessions(svc, log)))

	// Classic ASP.NET Core / Angular client.
	mux.Handle("POST /api/JWT/jwtauth", handleClassicLogin(svc, log))
	mux.Handle("POST /api/JWT/refreshjwt", handleClassicRefresh(svc, log))
	mux.Handle("GET /api/WeatherForecast", bearer(handleClassicWeather(svc)))

	// OAuth 2.0: RFC 6749 §6 refresh, RFC 7009 revocation, RFC 7517 keys, RFC 8414 metadata.
	mux.Handle("POST /oauth/token", handleOAuthToken(svc, log))
	mux.Handle("POST /oauth/revoke", handleOAuthRevoke(svc, log))
	mux.Handle("GET /.well-known/jwks.json", handleJWKS(svc))
	for _, path := range metadataPaths(cfg) {
		mux.Handle("GET "+path, handleMetadata(cfg))
	}

	mux.Handle("GET /healthz", handleLive())
	mux.Handle("GET /readyz", handleReady(svc, log))

	// The built-in browser client (web.go), unless --web=false.
	if cfg.Web {
		mux.Handle("GET /{$}", handleWeb())
		mux.Handle("GET /web/{file}", handleWeb())
	}

	// Everything else: JSON 404, or 405 with Allow for a known path and the wrong method.
	mux.Handle("/", handleNoRoute(mux))
}
