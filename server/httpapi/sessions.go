package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/authctl/authctl/server"
)

// The sessions API (README "Sessions"): a user lists and ends their own sessions; an admin
// lists and ends anyone's. Every route here is behind requireBearer.

// sessionJSON is one session in the lists; a stable shape scripts may rely on.
type sessionJSON struct {
	ID              string     `json:"id"`
	Current         bool       `json:"current"` // the session of the access token that asked
	CreatedAt       time.Time  `json:"created_at"`
	LastRefreshedAt *time.Time `json:"last_refreshed_at"` // null before the first refresh
	ExpiresAt       time.Time  `json:"expires_at"`
	ClientAddr      string     `json:"client_addr"` // at login
	UserAgent       string     `json:"user_agent"`  // at login
	RevokedAt       *time.Time `json:"revoked_at"`  // null while live
	RevokeReason    string     `json:"revoke_reason,omitempty"`
}

func sessionsJSON(list []server.Session, current string) []sessionJSON {
	out := make([]sessionJSON, 0, len(list))
	for _, s := range list {
		j := sessionJSON{ID: s.ID, Current: s.ID == current, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt,
			ClientAddr: s.ClientAddr, UserAgent: s.UserAgent, RevokeReason: s.RevokeReason}
		if !s.RefreshedAt.IsZero() {
			j.LastRefreshedAt = &s.RefreshedAt
		}
		if s.Revoked() {
			j.RevokedAt = &s.RevokedAt
		}
		out = append(out, j)
	}
	return out
}

// mySessions is GET /api/auth/sessions' answer.
type mySessions struct {
	Sessions []sessionJSON `json:"sessions"`
}

// userSessions is GET /api/admin/users/{name}/sessions' answer.
type userSessions struct {
	User     string        `json:"user"`
	Sessions []sessionJSON `json:"sessions"`
}

// userRevoked is DELETE /api/admin/users/{name}/sessions' answer: the sessions it ended
// (those revoked already are not among them).
type userRevoked struct {
	User    string   `json:"user"`
	Revoked []string `json:"revoked"`
}

func handleMySessions(svc *server.Service, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := claimsFrom(r)
		list, err := svc.MySessions(r.Context(), c)
		if err != nil {
			sessionsFail(w, r, log, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		encode(w, http.StatusOK, mySessions{Sessions: sessionsJSON(list, c.SID)})
	})
}

// handleRevokeMySession ends one of the caller's sessions: 204, also when it had ended
// already; 404 for an id that is unknown or another user's, alike.
func handleRevokeMySession(svc *server.Service, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		err := server.ErrNotFound
		if plausibleSessionID(id) {
			err = svc.RevokeMySession(r.Context(), claimsFrom(r), id)
		}
		if err != nil {
			sessionsFail(w, r, log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func handleUserSessions(svc *server.Service, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := claimsFrom(r)
		name := r.PathValue("name")
		u, list, err := svc.AdminUserSessions(r.Context(), c, name)
		if err != nil {
			sessionsFail(w, r, log, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		encode(w, http.StatusOK, userSessions{User: u.Name, Sessions: sessionsJSON(list, c.SID)})
	})
}

func handleRevokeUserSessions(svc *server.Service, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ids, err := svc.AdminRevokeUserSessions(r.Context(), claimsFrom(r), clientAddr(r), r.PathValue("name"))
		if err != nil {
			sessionsFail(w, r, log, err)
			return
		}
		encode(w, http.StatusOK, userRevoked{User: u.Name, Revoked: ids})
	})
}

// sessionsFail adds the sessions API's two answers to fail's: 403 insufficient_scope (RFC
// 6750 §3.1) for a non-admin on the admin routes, and 404 for a user or session that is not
// there (or, on the owner's routes, not the caller's).
func sessionsFail(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	switch {
	case errors.Is(err, server.ErrForbidden):
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", error_description="the admin role is required"`)
		err = &apiError{Status: http.StatusForbidden, Code: "insufficient_scope", Description: "the admin role is required"}
	case errors.Is(err, server.ErrNotFound):
		err = &apiError{Status: http.StatusNotFound, Code: "not_found", Description: "no such user or session"}
	}
	fail(w, r, log, err)
}

// clientInfo is what a login records about the client for the sessions list.
func clientInfo(r *http.Request) server.ClientInfo {
	return server.ClientInfo{Addr: clientAddr(r), UserAgent: r.UserAgent()}
}

// plausibleSessionID tells whether id could be a session id (base64url, as the server makes
// them) before the store is asked about it.
func plausibleSessionID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
