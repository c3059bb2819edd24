package httpapi

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/authctl/authctl/server"
)

// What the access log and the metrics learn about a request (README "Logs", "Metrics").
//
// The access log is the outermost middleware, but the facts it reports are found deeper
// in: the route pattern by the ServeMux, the user and session by requireBearer. Middleware
// in between may replace the request with a copy (r.WithContext), so those facts cannot be
// read back from the request the log holds; instead the log puts a *requestInfo in the
// context and the inner layers fill it in.

// RequestObserver is told about every answered request, for metrics. route is the
// ServeMux pattern that handled it ("GET /api/weather"), or "" when none did (a CORS
// preflight or an oversized body answered before routing). It is called on the request
// path and must be cheap.
type RequestObserver interface {
	ObserveRequest(route string, status int, d time.Duration)
}

// requestInfo is filled in while a request is served; only that request's goroutine touches
// it, and the access log reads it after the handler chain has returned.
type requestInfo struct {
	id        string
	route     string
	user, sid string
}

type requestInfoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	ri, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return ri
}

// routed records the pattern the mux chose. ServeMux sets Pattern on the request it is
// given, so it can be read once the mux has returned.
func routed(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		if ri := infoFrom(r.Context()); ri != nil {
			ri.route = r.Pattern
		}
	})
}

// noteClaims records who an authenticated request came from, for its access-log line.
func noteClaims(r *http.Request, c *server.AccessClaims) {
	if ri := infoFrom(r.Context()); ri != nil && c != nil {
		ri.user, ri.sid = c.Name, c.SID
	}
}

// requestIDHeader is the de-facto standard header for correlating one request across a
// proxy, the server's log and the client's report.
const requestIDHeader = "X-Request-Id"

const maxRequestID = 128

// requestID is the client's (or proxy's) X-Request-Id when it is sane — 1 to 128 bytes of
// letters, digits and -_.:+/=@ (UUIDs, trace ids, ULIDs) — and otherwise a new random one.
// Anything else is replaced rather than escaped: the id goes into a response header and
// every log line of the request, and a client must not choose what those say.
func requestID(r *http.Request) string {
	if id := r.Header.Get(requestIDHeader); saneRequestID(id) {
		return id
	}
	return newRequestID()
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '_', c == '.', c == ':', c == '+', c == '/', c == '=', c == '@':
		default:
			return false
		}
	}
	return true
}

// newRequestID is 64 random bits in hex. It correlates log lines; it guards nothing, so the
// runtime's fast generator is enough and no request waits on crypto/rand.
func newRequestID() string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], rand.Uint64())
	return hex.EncodeToString(b[:])
}

// probePaths are answered to load balancers and monitoring many times a minute; their
// request lines are logged at DEBUG so that they do not drown the INFO log.
var probePaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}
