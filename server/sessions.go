package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Sessions as their owner and admins see them: listed with when and from where they were
// opened and last refreshed, and ended one by one or all at once. The owner's side is the
// Service's (GET and DELETE /api/auth/sessions); the admin side is plain functions over a
// Store, shared by the admin API and by `authctl user sessions|revoke` on --db.

// ClientInfo is what a login records about its client for the sessions list.
type ClientInfo struct {
	Addr      string // the client's IP address, also the key of the per-address login limit
	UserAgent string // the User-Agent header as sent; stored cut and cleaned (cleanUserAgent)
}

// RoleAdmin is the role that may use the admin API.
const RoleAdmin = "admin"

// ErrForbidden: the caller is authenticated but may not do this (a non-admin on the admin
// API).
var ErrForbidden = errors.New("forbidden")

// MaxListedSessions bounds a sessions list: a script that logs in every few minutes for a
// month has thousands of live sessions, and a page of the newest is what a person reads.
const MaxListedSessions = 200

// maxUserAgent is how much of a User-Agent is kept; real ones are well under it.
const maxUserAgent = 256

// cleanUserAgent keeps printable ASCII only, at most maxUserAgent bytes: the header is the
// client's choice, and it ends up in terminals (`authctl sessions`) and JSON.
func cleanUserAgent(ua string) string {
	out := make([]byte, 0, min(len(ua), maxUserAgent))
	for i := 0; i < len(ua) && len(out) < maxUserAgent; i++ {
		if c := ua[i]; c >= 0x20 && c < 0x7f {
			out = append(out, c)
		}
	}
	return string(out)
}

// LoginFrom is Login that also records the client's User-Agent with the new session.
func (s *Service) LoginFrom(ctx context.Context, username, password string, client ClientInfo) (Tokens, error) {
	return s.login.login(ctx, username, password, client)
}

// userIDOf is the user id in an access token's sub.
func userIDOf(c *AccessClaims) (int64, error) {
	id, err := strconv.ParseInt(c.Subject, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: sub is not a user id", ErrInvalidToken)
	}
	return id, nil
}

// MySessions lists the sessions of the user the access token belongs to: those not
// expired, revoked ones included, newest first.
func (s *Service) MySessions(ctx context.Context, claims *AccessClaims) ([]Session, error) {
	id, err := userIDOf(claims)
	if err != nil {
		return nil, err
	}
	list, err := s.store.UserSessions(ctx, id, s.cfg.Now(), MaxListedSessions)
	if err != nil {
		return nil, unavailable("list sessions", err)
	}
	return list, nil
}

// RevokeMySession ends one session of the token's owner (the current one too: that is a
// logout). Another user's session is ErrNotFound, as an unknown id is, so that the answer
// does not tell whether it exists.
func (s *Service) RevokeMySession(ctx context.Context, claims *AccessClaims, sid string) error {
	id, err := userIDOf(claims)
	if err != nil {
		return err
	}
	sess, err := s.store.Session(ctx, sid)
	switch {
	case errors.Is(err, ErrNotFound), err == nil && sess.UserID != id:
		return ErrNotFound
	case err != nil:
		return unavailable("look up session", err)
	}
	return s.revoke.revoke(ctx, sid, RevokeByUser)
}

// requireAdmin admits tokens of role admin.
func requireAdmin(claims *AccessClaims) error {
	if claims.Role != RoleAdmin {
		return ErrForbidden
	}
	return nil
}

// AdminUserSessions is UserSessions for an admin's access token; ErrForbidden for others.
func (s *Service) AdminUserSessions(ctx context.Context, claims *AccessClaims, name string) (User, []Session, error) {
	if err := requireAdmin(claims); err != nil {
		return User{}, nil, err
	}
	return UserSessions(ctx, s.store, name, s.cfg.Now())
}

// AdminRevokeUserSessions is RevokeUserSessions for an admin's access token, audited with
// the admin as actor and addr as the admin's address; ErrForbidden for others. This process
// refuses the sessions' access tokens at once; the other replicas within a poll.
func (s *Service) AdminRevokeUserSessions(ctx context.Context, claims *AccessClaims, addr, name string) (User, []string, error) {
	if err := requireAdmin(claims); err != nil {
		return User{}, nil, err
	}
	now := s.cfg.Now()
	ctx = WithActor(ctx, Actor{Name: claims.Name, Via: ViaAPI, Addr: addr})
	u, ids, err := RevokeUserSessions(ctx, s.store, name, now)
	for _, sid := range ids {
		s.revoked.mark(sid, now)
		s.revoke.obs.revoked(RevokeByAdmin)
	}
	return u, ids, err
}

// UserSessions lists the sessions of the user named, as MySessions does; ErrNotFound for
// an unknown user.
func UserSessions(ctx context.Context, st Store, name string, now time.Time) (User, []Session, error) {
	return forUser(ctx, st, name, "list sessions", func(u User) ([]Session, error) {
		return st.UserSessions(ctx, u.ID, now, MaxListedSessions)
	})
}

// RevokeUserSessions ends every live session of the user named, with RevokeByAdmin, and
// returns their ids; ErrNotFound for an unknown user. With an actor in ctx (WithActor) the
// store audits it.
func RevokeUserSessions(ctx context.Context, st Store, name string, now time.Time) (User, []string, error) {
	return forUser(ctx, st, name, "revoke sessions", func(u User) ([]string, error) {
		return st.RevokeUserSessions(ctx, u.ID, RevokeByAdmin, now)
	})
}

// forUser looks up the user named and runs one store call for them; a failure of that call
// is the store's (503), worded once here.
func forUser[T any](ctx context.Context, st Store, name, what string, call func(User) (T, error)) (User, T, error) {
	var zero T
	u, err := lookUpUser(ctx, st, name)
	if err != nil {
		return User{}, zero, err
	}
	v, err := call(u)
	if err != nil {
		return User{}, zero, unavailable(what+" of "+logName(name), err)
	}
	return u, v, nil
}

// RevokeUserSession ends one session of the user named, with RevokeByAdmin (a revoked one
// keeps its first reason); ErrNotFound for an unknown user or a session that is not the
// user's. With an actor in ctx the store audits it.
func RevokeUserSession(ctx context.Context, st Store, name, sid string, now time.Time) (User, Session, error) {
	u, err := lookUpUser(ctx, st, name)
	if err != nil {
		return User{}, Session{}, err
	}
	sess, err := st.Session(ctx, sid)
	switch {
	case errors.Is(err, ErrNotFound), err == nil && sess.UserID != u.ID:
		return User{}, Session{}, fmt.Errorf("session %s of %s: %w", sid, logName(name), ErrNotFound)
	case err != nil:
		return User{}, Session{}, unavailable("look up session", err)
	}
	sess, err = st.RevokeSession(ctx, sid, RevokeByAdmin, now)
	if errors.Is(err, ErrNotFound) { // deleted by the expired-session cleanup meanwhile
		return User{}, Session{}, fmt.Errorf("session %s of %s: %w", sid, logName(name), ErrNotFound)
	}
	if err != nil {
		return User{}, Session{}, unavailable("revoke session", err)
	}
	return u, sess, nil
}

// lookUpUser is UserByName with ErrNotFound kept as it is and other failures as
// ErrUnavailable.
func lookUpUser(ctx context.Context, st Store, name string) (User, error) {
	u, err := st.UserByName(ctx, name)
	switch {
	case errors.Is(err, ErrNotFound):
		return User{}, fmt.Errorf("user %s: %w", logName(name), ErrNotFound)
	case err != nil:
		return User{}, unavailable("look up user", err)
	}
	return u, nil
}
