package httpapi

import (
	"net/http"
	"slices"
	"strings"
)

// Headers a browser page may read from our answers: the classic client's expiry flag and
// what it needs to react to 401 and 429.
const exposedHeaders = "IS-TOKEN-EXPIRED, WWW-Authenticate, Retry-After"

// preflightVary names every request header a preflight answer depends on, so that a cache
// never serves one origin's or one method's answer to another.
const preflightVary = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"

// cors lets the configured origins (exact match: scheme://host[:port]) call the API from a
// page. A preflight from one of them is granted the method and the request headers it asked
// for, as ASP.NET's AllowAnyHeader()/AllowAnyMethod() do: the classic Angular client sends
// odd headers (an Access-Control-Allow-Headers *request* header among them), and a fixed list
// that forgets one blocks every call. That is safe because origins, not headers, are the
// boundary: the API authenticates by bearer token, and no credentials mode is granted, so a
// page can never make the browser attach our cookies to a cross-origin call.
//
// A preflight from any other origin is refused with a plain 403 and no CORS header, rather
// than reaching the mux and its 405: the browser then blocks the call, which is the point,
// and the answer says why. Ordinary requests from other origins pass through unlabelled.
func cors(origins []string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			origin := r.Header.Get("Origin")
			method := r.Header.Get("Access-Control-Request-Method")
			if r.Method == http.MethodOptions && origin != "" && method != "" {
				h.Set("Vary", preflightVary)
				answerPreflight(w, slices.Contains(origins, origin), origin, method, r.Header.Values("Access-Control-Request-Headers"))
				return
			}
			if len(origins) == 0 {
				next.ServeHTTP(w, r)
				return
			}
			// The answer depends on Origin whenever CORS is on, so caches must key on it.
			h.Add("Vary", "Origin")
			if origin != "" && slices.Contains(origins, origin) {
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Expose-Headers", exposedHeaders)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// answerPreflight grants an allowed origin exactly what it asked for, once the method and
// the header names are well-formed (RFC 9110 tokens; the browser only sends those, so
// anything else is a forged preflight and gets nothing echoed back). The names come back in
// canonical form (Content-Type): browsers compare them case-insensitively, people do not.
func answerPreflight(w http.ResponseWriter, allowed bool, origin, method string, headers []string) {
	names, ok := tokenList(strings.Join(headers, ","))
	if !allowed || !isToken(method) || !ok {
		encode(w, http.StatusForbidden, &apiError{Code: "invalid_request",
			Description: "cross-origin request not allowed; start the server with --cors-origin for this page's origin"})
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Methods", method)
	if len(names) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(names, ", "))
	}
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

// tokenList parses an RFC 9110 #token list (tokens separated by commas and optional
// whitespace, empty elements allowed) into canonical header names.
func tokenList(s string) ([]string, bool) {
	var names []string
	for f := range strings.SplitSeq(s, ",") {
		f = strings.Trim(f, " \t")
		if f == "" {
			continue
		}
		if !isToken(f) {
			return nil, false
		}
		names = append(names, http.CanonicalHeaderKey(f))
	}
	return names, true
}

// isToken reports whether s is an RFC 9110 token (tchar+).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
