package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
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

// accessLog logs one line per request: method, path, status, duration, client address and
// request id, and for authenticated routes the user and session id; probes (probePaths) at
// DEBUG, everything else at INFO. Never headers (Authorization), bodies (passwords, refresh
// tokens) or the query string: the API takes no secret in a query, but a misguided client
// may send ?access_token= anyway (RFC 6750 §2.3), and a log is the wrong place to find out.
// It also hands every request to obs (nil: none), and answers with the request's id in
// X-Request-Id.
func accessLog(log *slog.Logger, obs RequestObserver) func(http.Handler) http.Handler {
	refused := &refusalSampler{}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ri := &requestInfo{id: requestID(r)}
			w.Header().Set(requestIDHeader, ri.id)
			sw := &statusWriter{ResponseWriter: w}
			next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, ri)))
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			d := time.Since(start)
			if obs != nil {
				obs.ObserveRequest(ri.route, sw.status, d)
			}
			level := slog.LevelInfo
			if probePaths[r.URL.Path] {
				level = slog.LevelDebug
			}
			if !log.Enabled(r.Context(), level) {
				return
			}
			if sw.status == http.StatusTooManyRequests {
				ok, dropped := refused.admit(start)
				if dropped > 0 {
					log.LogAttrs(r.Context(), slog.LevelWarn, "refused requests not logged one by one",
						slog.String("event", "requests_refused_summary"), slog.Int("status", http.StatusTooManyRequests),
						slog.Int("count", dropped), slog.Duration("window", refusalWindow))
				}
				if !ok {
					return
				}
			}
			attrs := []slog.Attr{slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", sw.status), slog.Duration("duration", d),
				slog.String("addr", clientAddr(r)), slog.String("request_id", ri.id)}
			if ri.sid != "" {
				attrs = append(attrs, slog.String("user", ri.user), slog.String("sid", ri.sid))
			}
			log.LogAttrs(r.Context(), level, "request", attrs...)
		})
	}
}

// A flood of refused (429) requests must not fill the disk through the access log: at most
// refusalLines of them are logged per refusalWindow, and the rest are counted into one
// summary line, written with the first refused request of a later window.
const (
	refusalLines  = 20
	refusalWindow = 10 * time.Second
)

type refusalSampler struct {
	mu      sync.Mutex
	start   time.Time
	logged  int
	dropped int
}

// admit says whether the refused request at now gets its own line, and how many refused
// requests of the window that just ended were not logged (to be summarised now).
func (s *refusalSampler) admit(now time.Time) (ok bool, droppedBefore int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.start) >= refusalWindow {
		droppedBefore = s.dropped
		s.start, s.logged, s.dropped = now, 0, 0
	}
	if s.logged < refusalLines {
		s.logged++
		return true, droppedBefore
	}
	s.dropped++
	return false, droppedBefore
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
			noteClaims(r, claims)
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, claims)))
		})
	}
}

// claimsFrom returns the claims requireBearer stored; handlers behind it may rely on them.
func claimsFrom(r *http.Request) *server.AccessClaims {
	c, _ := r.Context().Value(claimsKey{}).(*server.AccessClaims)
	return c
}
