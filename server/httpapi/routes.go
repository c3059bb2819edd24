package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/authctl/authctl/server"
)

// addRoutes is the whole API surface. The native, classic and OAuth endpoints are thin
// adapters over the same Service methods.
func addRoutes(mux *http.ServeMux, svc *server.Service, cfg Config, log *slog.Logger) {
	auth := requireBearer(svc)

	// Native JSON API.
	mux.Handle("POST /api/auth/login", handleLogin(svc, log))
	mux.Handle("POST /api/auth/refresh", handleRefresh(svc, log))
	mux.Handle("POST /api/auth/logout", handleLogout(svc, log))
	mux.Handle("GET /api/auth/me", auth(handleMe()))
	mux.Handle("GET /api/weather", auth(handleWeather(svc)))

	// Classic ASP.NET/Angular compatibility.
	mux.Handle("POST /api/JWT/jwtauth", handleClassicLogin(svc, log))
	mux.Handle("POST /api/JWT/refreshjwt", handleClassicRefresh(svc, log))
	mux.Handle("GET /api/WeatherForecast", auth(handleClassicWeather(svc)))

	// OAuth 2.0.
	mux.Handle("POST /oauth/token", handleOAuthToken(svc, log))
	mux.Handle("POST /oauth/revoke", handleOAuthRevoke(svc, log))
	mux.Handle("GET /.well-known/jwks.json", handleJWKS(svc))
	mux.Handle("GET /.well-known/oauth-authorization-server", handleMetadata(cfg))

	mux.Handle("GET /healthz", handleHealth(svc, log))
	mux.Handle("/", handleNotFound())
}
