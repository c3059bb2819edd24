package httpapi

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/authctl/authctl/server"
)

// limitBody caps request bodies at MaxBody. A declared length over the cap is refused before
// any handler runs; a chunked body that grows past it makes the decoders answer 413.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxBody {
			w.Header().Set("Connection", "close")
			encode(w, http.StatusRequestEntityTooLarge, errTooLarge())
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
		next.ServeHTTP(w, r)
	})
}

// Headers a browser page may read from our answers: the classic client's expiry flag and
// what it needs to react to 401 and 429.
const exposedHeaders = "IS-TOKEN-EXPIRED, WWW-Authenticate, Retry-After"

// cors answers preflights and labels answers for the configured origins only (exact match).
// Other origins, and preflights from them, pass through untouched: without an
// Access-Control-Allow-Origin the browser refuses the call, which is the point. No
// credentials mode: the API takes bearer tokens, not cookies.
func cors(origins []string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if len(origins) == 0 {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			// The answer depends on Origin whenever CORS is on, so caches must key on it.
			h.Add("Vary", "Origin")
			origin := r.Header.Get("Origin")
			if origin == "" || !slices.Contains(origins, origin) {
				next.ServeHTTP(w, r)
				return
			}
			h.Set("Access-Control-Allow-Origin", origin)
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Add("Vary", "Access-Control-Request-Method")
				h.Add("Vary", "Access-Control-Request-Headers")
				h.Set("Access-Control-Allow-Methods", "GET, POST")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
			h.Set("Access-Control-Expose-Headers", exposedHeaders)
			next.ServeHTTP(w, r)
		})
	}
}

// headerWatch remembers whether a handler has started its answer, so that recovery does not
// write a second status line.
type headerWatch struct {
	http.ResponseWriter
	wrote bool
}

func (h *headerWatch) WriteHeader(code int) {
	h.wrote = true
	h.ResponseWriter.WriteHeader(code)
}

func (h *headerWatch) Write(b []byte) (int, error) {
	h.wrote = true
	return h.ResponseWriter.Write(b)
}

func (h *headerWatch) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// recoverPanics turns a panic into a logged 500 JSON answer. No known input reaches it (see
// TestNoInputReachesServerError); it is the last line, not an error path. The log line names
// the request but holds no header or body: those may carry secrets.
func recoverPanics(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hw := &headerWatch{ResponseWriter: w}
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler {
					panic(v) // the server's own way to abort a response; let it do so
				}
				log.Error("panic serving request", "method", r.Method, "path", r.URL.Path,
					"panic", v, "stack", string(debug.Stack()))
				if !hw.wrote {
					encode(w, http.StatusInternalServerError, &apiError{Code: "server_error", Description: "internal error"})
				}
			}()
			next.ServeHTTP(hw, r)
		})
	}
}

// statusWriter records the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// accessLog logs one line per request: method, path, status, duration and client address.
// Never headers (Authorization), bodies (passwords, refresh tokens) or the query string: the
// API takes no secret in a query, but a misguided client may send ?access_token= anyway
// (RFC 6750 §2.3), and a log is the wrong place to find out.
func accessLog(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w}
			next.ServeHTTP(sw, r)
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			log.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", sw.status), slog.Duration("duration", time.Since(start)),
				slog.String("addr", clientAddr(r)))
		})
	}
}

// clientAddr is the peer's IP, the key of the per-address login limit. X-Forwarded-For is
// deliberately ignored: any client can write it, and trusting it would let one attacker
// spread guesses over invented addresses.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type claimsKey struct{}

// requireBearer admits requests carrying a valid access token (RFC 6750 §2.1, the scheme in
// any case) and puts its claims in the context. A request without bearer credentials gets
// the bare challenge (RFC 6750 §3.1: no error code when no credentials were sent); a bad or
// expired token gets error="invalid_token" from fail.
func requireBearer(svc *server.Service, log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
			if !strings.EqualFold(scheme, "Bearer") {
				w.Header().Set("WWW-Authenticate", `Bearer realm="authctl"`)
				encode(w, http.StatusUnauthorized, tokenError("bearer access token required"))
				return
			}
			token = strings.TrimSpace(token)
			if token == "" || strings.ContainsAny(token, " \t") {
				fail(w, r, log, tokenError("malformed bearer credentials"))
				return
			}
			claims, err := svc.Authenticate(r.Context(), token)
			if err != nil {
				fail(w, r, log, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, claims)))
		})
	}
}

// claimsFrom returns the claims requireBearer stored; handlers behind it may rely on them.
func claimsFrom(r *http.Request) *server.AccessClaims {
	c, _ := r.Context().Value(claimsKey{}).(*server.AccessClaims)
	return c
}
