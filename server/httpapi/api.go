// Package httpapi is the HTTP adapter of the token server: routes, handlers, middleware and
// the one mapping from domain errors to RFC 6749 / RFC 6750 answers.
package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/authctl/authctl/server"
)

// Config is what the HTTP layer needs beyond the Service.
type Config struct {
	CORSOrigins []string // browser origins allowed to call the API (exact match)
	// Issuer, when it is an http(s) URL, is the base of the RFC 8414 metadata; otherwise the
	// base is taken from the request (scheme and Host), since the token issuer may be a plain
	// name such as "authctl".
	Issuer string
}

// MaxBody is the largest request body accepted.
const MaxBody = 1 << 20

// New wires the whole HTTP API.
func New(svc *server.Service, cfg Config, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	addRoutes(mux, svc, cfg, log)
	var h http.Handler = mux
	h = limitBody(h)
	h = cors(cfg.CORSOrigins)(h)
	h = recoverPanics(log)(h)
	h = accessLog(log)(h)
	return h
}

// apiError is an RFC 6749 §5.2 error answer.
type apiError struct {
	Status      int    `json:"-"`
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Description }

func badRequest(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Description: fmt.Sprintf(format, args...)}
}

// encode writes v as JSON with status.
func encode[T any](w http.ResponseWriter, status int, v T) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// decode reads exactly one JSON object of type T: application/json only, no unknown fields,
// nothing after it.
func decode[T any](r *http.Request) (T, error) {
	var v T
	if err := requireContentType(r, "application/json"); err != nil {
		return v, err
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if tooLarge(err) {
			return v, decodeError(err)
		}
		return v, badRequest("unexpected data after the JSON object")
	}
	return v, nil
}

func requireContentType(r *http.Request, want string) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != want {
		return &apiError{Status: http.StatusUnsupportedMediaType, Code: "invalid_request",
			Description: "Content-Type must be " + want}
	}
	return nil
}

func tooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

func decodeError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case tooLarge(err):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: "invalid_request",
			Description: fmt.Sprintf("request body larger than %d bytes", MaxBody)}
	case errors.Is(err, io.EOF):
		return badRequest("empty request body")
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("malformed JSON")
	case errors.As(err, &typ):
		return badRequest("field %q has the wrong type", typ.Field)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return badRequest("%s", strings.TrimPrefix(err.Error(), "json: "))
	default:
		return badRequest("malformed JSON")
	}
}

// fail maps an error to its status and RFC 6749/6750 body. It is the only place that does.
func fail(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var ae *apiError
	var rl *server.RateLimitError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &rl):
		w.Header().Set("Retry-After", strconv.Itoa(int((rl.RetryAfter+999_999_999)/1_000_000_000)))
		ae = &apiError{Status: http.StatusTooManyRequests, Code: "slow_down", Description: "too many failed logins; try again later"}
	case errors.Is(err, server.ErrInvalidCredentials):
		ae = &apiError{Status: http.StatusUnauthorized, Code: "invalid_grant", Description: "invalid username or password"}
	case errors.Is(err, server.ErrInvalidGrant):
		ae = &apiError{Status: http.StatusBadRequest, Code: "invalid_grant", Description: "refresh token is invalid, expired or revoked"}
	case errors.Is(err, server.ErrTokenExpired):
		w.Header().Set("IS-TOKEN-EXPIRED", "true")
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="the access token expired"`)
		ae = &apiError{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "the access token expired"}
	case errors.Is(err, server.ErrInvalidToken):
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="the access token is invalid"`)
		ae = &apiError{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "the access token is invalid"}
	case errors.Is(err, server.ErrUnavailable):
		log.Error("store unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "1")
		ae = &apiError{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Description: "the server cannot reach its database; try again"}
	case r.Context().Err() != nil:
		ae = &apiError{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Description: "request cancelled"}
	default:
		log.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		ae = &apiError{Status: http.StatusInternalServerError, Code: "server_error", Description: "internal error"}
	}
	if ae.Status == http.StatusRequestEntityTooLarge || ae.Status == http.StatusUnsupportedMediaType {
		w.Header().Set("Connection", "close")
	}
	encode(w, ae.Status, ae)
}
