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

	// Native JSON API (the authctl client).
	mux.Handle("POST /api/auth/login", handleLogin(svc, log))
	mux.Handle("POST /api/auth/refresh", handleRefresh(svc, log))
	mux.Handle("POST /api/auth/logout", handleLogout(svc, log))
	mux.Handle("GET /api/auth/me", bearer(handleMe()))
	mux.Handle("GET /api/weather", bearer(handleWeather(svc, log)))

	// Classic ASP.NET Core / Angular client.
	mux.Handle("POST /api/JWT/jwtauth", handleClassicLogin(svc, log))
	mux.Handle("POST /api/JWT/refreshjwt", handleClassicRefresh(svc, log))
	mux.Handle("GET /api/WeatherForecast", bearer(handleClassicWeather(svc)))

	// OAuth 2.0: RFC 6749 §6 refresh, RFC 7009 revocation, RFC 7517 keys, RFC 8414 metadata.
	mux.Handle("POST /oauth/token", handleOAuthToken(svc, log))
	mux.Handle("POST /oauth/revoke", handleOAuthRevoke(svc, log))
	mux.Handle("GET /.well-known/jwks.json", handleJWKS(svc))
	mux.Handle("GET /.well-known/oauth-authorization-server", handleMetadata(cfg))

	mux.Handle("GET /healthz", handleHealth(svc, log))

	// Everything else: JSON 404, or 405 with Allow for a known path and the wrong method.
	mux.Handle("/", handleNoRoute(mux))
}
