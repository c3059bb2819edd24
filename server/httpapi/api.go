// Package httpapi is the HTTP adapter of the token server: routes, handlers, middleware and
// the one mapping from domain errors to RFC 6749 / RFC 6750 answers. It holds no token logic;
// every endpoint is a thin translation onto a server.Service method.
package httpapi

import (
	"bytes"
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
	// CORSOrigins are the browser origins allowed to call the API, matched exactly
	// (scheme://host[:port]). None: no CORS headers at all.
	CORSOrigins []string
	// Issuer is the "issuer" of the RFC 8414 metadata; empty means the Service's issuer, so
	// that it equals the iss claim of the tokens. When it is an http(s) URL it is also the
	// base of the advertised endpoint URLs; otherwise (the default "authctl" is a plain name)
	// the base is the scheme and Host of the metadata request itself. Forwarded headers are
	// not trusted: behind a TLS-terminating proxy, set --issuer to the public URL.
	Issuer string
	// Web serves the built-in browser client at / (README "Browser").
	Web bool
	// PublicURL is the URL browsers use to reach the server. The browser mode of the auth
	// endpoints takes from it the origin that cookie-carrying calls must come from, and
	// whether the cookie is Secure; empty means the origin each request was sent to, and
	// Secure exactly when the connection is TLS.
	PublicURL string
	// Requests, when set, is told about every answered request (server/metrics counts them).
	Requests RequestObserver
}

// MaxBody is the largest request body accepted.
const MaxBody = 1 << 20

// New wires the whole HTTP API. The middleware order matters: the access log is outermost
// so that it sees the status the recovery middleware wrote, and CORS runs before the body
// limit so that an oversized request from a browser still carries its CORS headers and the
// page can read the 413.
func New(svc *server.Service, cfg Config, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Issuer == "" {
		cfg.Issuer = svc.Config().Issuer
	}
	mux := http.NewServeMux()
	addRoutes(mux, svc, cfg, log)
	var h http.Handler = routed(mux)
	h = limitBody(h)
	h = cors(cfg.CORSOrigins)(h)
	h = recoverPanics(log)(h)
	h = accessLog(log, cfg.Requests)(h)
	return h
}

// apiError is an RFC 6749 §5.2 error answer with its status.
type apiError struct {
	Status      int    `json:"-"`
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Description }

func badRequest(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Description: fmt.Sprintf(format, args...)}
}

// encode writes v as JSON with status. A failed write means the client went away; there is
// no one left to tell.
func encode[T any](w http.ResponseWriter, status int, v T) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads exactly one JSON value of type T from an application/json body: no unknown
// fields, no field given twice (names compare case-insensitively, as encoding/json matches
// them), nothing after the value. Every failure is an *apiError (400, 413 or 415).
func decode[T any](r *http.Request) (T, error) {
	var v T
	if err := requireContentType(r, "application/json"); err != nil {
		return v, err
	}
	// The body is at most MaxBody (limitBody), so reading it whole is bounded; it lets the
	// duplicate check and the decoder see the same bytes.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		if tooLarge(err) {
			return v, errTooLarge()
		}
		return v, badRequest("cannot read the request body")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return v, badRequest("empty request body")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return v, badRequest("unexpected data after the JSON value")
	}
	if name, ok := duplicateName(body); ok {
		return v, badRequest("field %q given more than once", name)
	}
	return v, nil
}

// duplicateName reports the first object member name that occurs twice in one object of a
// syntactically valid JSON text. encoding/json silently keeps the last of duplicates, and two
// parsers disagreeing on which one counts is a classic smuggling vector.
func duplicateName(body []byte) (string, bool) {
	type frame struct {
		names   map[string]bool // nil for an array
		wantKey bool
	}
	var stack []frame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].names != nil {
			stack[n-1].wantKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false // EOF, or a syntax error already reported by the real decode
		}
		if n := len(stack); n > 0 && stack[n-1].wantKey {
			if name, ok := tok.(string); ok {
				folded := strings.ToLower(strings.ToUpper(name))
				if stack[n-1].names[folded] {
					return name, true
				}
				stack[n-1].names[folded] = true
				stack[n-1].wantKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{names: map[string]bool{}, wantKey: true})
		case json.Delim('['):
			stack = append(stack, frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}

// requireContentType accepts want with any parameters (charset=utf-8 …) and nothing else.
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

func errTooLarge() *apiError {
	return &apiError{Status: http.StatusRequestEntityTooLarge, Code: "invalid_request",
		Description: "request body larger than " + strconv.Itoa(MaxBody) + " bytes"}
}

// decodeError turns an encoding/json failure into a 400 that names the problem but never
// echoes the body: it may hold a password.
func decodeError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return badRequest("empty request body")
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("malformed JSON")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return badRequest("the request body must be a JSON object")
		}
		return badRequest("field %q has the wrong type", typ.Field)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// The field name is attacker-chosen but harmless to repeat; quote it so that it
		// cannot forge structure in the answer.
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return badRequest("unknown field %q", name)
	default:
		return badRequest("malformed JSON")
	}
}

// fail maps an error to its status, headers and RFC 6749 / RFC 6750 body. It is the only
// place that does; handlers return domain errors or *apiError values and call it.
//
// Decisions:
//   - ErrInvalidCredentials is 401 invalid_grant: the login endpoints are first-party, not
//     the RFC 6749 token endpoint (which would say 400); 401 is what the classic client's
//     ASP.NET original answered and what clients treat as "credentials rejected", while the
//     code keeps RFC 6749's name for bad resource-owner credentials.
//   - A *server.RateLimitError is 429 slow_down (the IANA-registered OAuth code for "retry
//     more slowly") with Retry-After in whole seconds, rounded up.
//   - A *server.OverloadError (too many logins waiting for a password hash) is 503
//     temporarily_unavailable with its Retry-After, not logged: the Service sums them up.
//   - ErrUnavailable and a cancelled request are 503 temporarily_unavailable. Only
//     ErrUnavailable is logged at ERROR: the domain never wraps a client's mistake in it.
//   - Anything else is a logged 500 with a generic description.
func fail(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var ae *apiError
	var rl *server.RateLimitError
	var ov *server.OverloadError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &rl):
		secs := int64((rl.RetryAfter + 999_999_999) / 1_000_000_000)
		w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
		ae = &apiError{Status: http.StatusTooManyRequests, Code: "slow_down", Description: "too many failed logins; try again later"}
		if rl.Queued {
			ae.Description = "too many logins from this client at once; try again shortly"
		}
	case errors.As(err, &ov):
		secs := int64((ov.RetryAfter + 999_999_999) / 1_000_000_000)
		w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
		ae = &apiError{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Description: "too many logins at once; try again shortly"}
	case errors.Is(err, server.ErrInvalidCredentials):
		ae = &apiError{Status: http.StatusUnauthorized, Code: "invalid_grant", Description: "invalid username or password"}
	case errors.Is(err, server.ErrInvalidGrant):
		ae = &apiError{Status: http.StatusBadRequest, Code: "invalid_grant", Description: "refresh token is invalid, expired or revoked"}
	case errors.Is(err, server.ErrTokenExpired):
		w.Header().Set("IS-TOKEN-EXPIRED", "true")
		ae = tokenError("the access token expired")
	case errors.Is(err, server.ErrInvalidToken):
		ae = tokenError(tokenReason(err))
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
	switch {
	case ae.Status == http.StatusUnauthorized && ae.Code == "invalid_token":
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+ae.Description+`"`)
	case ae.Code == "invalid_client" && r.Header.Get("Authorization") != "":
		// RFC 6749 §5.2: a client that tried HTTP authentication gets the scheme it may use.
		w.Header().Set("WWW-Authenticate", `Basic realm="authctl"`)
	}
	if ae.Status == http.StatusRequestEntityTooLarge || ae.Status == http.StatusUnsupportedMediaType {
		// The unread rest of the body would otherwise be parsed as the next request.
		w.Header().Set("Connection", "close")
	}
	encode(w, ae.Status, ae)
}

func tokenError(description string) *apiError {
	return &apiError{Status: http.StatusUnauthorized, Code: "invalid_token", Description: description}
}

// tokenReason is the cause the Service wrapped ErrInvalidToken with ("invalid token: wrong
// audience"). The causes are fixed strings that never quote the token; anything outside a
// safe alphabet is dropped anyway, since it ends up inside a quoted header parameter.
func tokenReason(err error) string {
	msg, ok := strings.CutPrefix(err.Error(), server.ErrInvalidToken.Error()+": ")
	if !ok {
		return "the access token is invalid"
	}
	msg = strings.Map(func(r rune) rune {
		if r >= 0x20 && r < 0x7f && r != '"' && r != '\\' {
			return r
		}
		return -1
	}, msg)
	if msg == "" || len(msg) > 100 {
		return "the access token is invalid"
	}
	return "the access token is invalid: " + msg
}
