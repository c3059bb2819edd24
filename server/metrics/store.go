package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/authctl/authctl/server"
)

// Store wraps st so that every call is timed and its failures counted, by method name. The
// result keeps st's optional server.RevocationWatcher: the Service finds it by a type
// assertion, and losing it would silently turn pushed revocations into polled ones.
//
// Methods added to server.Store later pass through the embedded interface untimed until they
// are listed here.
func (m *Metrics) Store(st server.Store) server.Store {
	s := &store{Store: st, m: m}
	if w, ok := st.(server.RevocationWatcher); ok {
		return &watchingStore{store: s, w: w}
	}
	return s
}

// timed makes one store call and records it under op.
func timed[T any](m *Metrics, op string, call func() (T, error)) (T, error) {
	start := time.Now()
	v, err := call()
	m.storeCall(op, start, err)
	return v, err
}

// timedErr is timed for the calls that return only an error.
func timedErr(m *Metrics, op string, call func() error) error {
	_, err := timed(m, op, func() (struct{}, error) { return struct{}{}, call() })
	return err
}

// storeCall records one call that began at start and ended with err.
func (m *Metrics) storeCall(op string, start time.Time, err error) {
	m.storeLatency.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if failed(err) {
		m.storeErrors.WithLabelValues(op).Inc()
	}
}

// failed tells a store failure from the answers the contract defines (no such row, name
// taken, the rotation verdicts) and from a client that went away.
func failed(err error) bool {
	if err == nil {
		return false
	}
	for _, answer := range []error{server.ErrNotFound, server.ErrUserExists, server.ErrReuseDetected,
		server.ErrSessionRevoked, server.ErrSessionExpired, context.Canceled} {
		if errors.Is(err, answer) {
			return false
		}
	}
	return true
}

type store struct {
	server.Store
	m *Metrics
}

type watchingStore struct {
	*store
	w server.RevocationWatcher
}

// WatchRevocations implements server.RevocationWatcher. It runs as long as the server does,
// so it is not timed.
func (s *watchingStore) WatchRevocations(ctx context.Context, fn func(sessionID string)) error {
	return s.w.WatchRevocations(ctx, fn)
}

// The methods of server.Store, each timed under its own name.

func (s *store) CreateUser(ctx context.Context, name, role, passwordHash string, now time.Time) (server.User, error) {
	return timed(s.m, "CreateUser", func() (server.User, error) { return s.Store.CreateUser(ctx, name, role, passwordHash, now) })
}

func (s *store) UserByName(ctx context.Context, name string) (server.User, error) {
	return timed(s.m, "UserByName", func() (server.User, error) { return s.Store.UserByName(ctx, name) })
}

func (s *store) UserByID(ctx context.Context, id int64) (server.User, error) {
	return timed(s.m, "UserByID", func() (server.User, error) { return s.Store.UserByID(ctx, id) })
}

func (s *store) ListUsers(ctx context.Context) ([]server.User, error) {
	return timed(s.m, "ListUsers", func() ([]server.User, error) { return s.Store.ListUsers(ctx) })
}

func (s *store) CountUsers(ctx context.Context) (int, error) {
	return timed(s.m, "CountUsers", func() (int, error) { return s.Store.CountUsers(ctx) })
}

func (s *store) SetPassword(ctx context.Context, name, passwordHash string, now time.Time) (server.User, error) {
	return timed(s.m, "SetPassword", func() (server.User, error) { return s.Store.SetPassword(ctx, name, passwordHash, now) })
}

func (s *store) DeleteUser(ctx context.Context, name string, now time.Time) (server.User, error) {
	return timed(s.m, "DeleteUser", func() (server.User, error) { return s.Store.DeleteUser(ctx, name, now) })
}

func (s *store) CreateSession(ctx context.Context, sess server.Session, first server.RefreshToken) error {
	return timedErr(s.m, "CreateSession", func() error { return s.Store.CreateSession(ctx, sess, first) })
}

func (s *store) Session(ctx context.Context, id string) (server.Session, error) {
	return timed(s.m, "Session", func() (server.Session, error) { return s.Store.Session(ctx, id) })
}

func (s *store) SessionByToken(ctx context.Context, hash []byte) (server.Session, error) {
	return timed(s.m, "SessionByToken", func() (server.Session, error) { return s.Store.SessionByToken(ctx, hash) })
}

func (s *store) Rotate(ctx context.Context, req server.RotateRequest) (server.RotateResult, error) {
	return timed(s.m, "Rotate", func() (server.RotateResult, error) { return s.Store.Rotate(ctx, req) })
}

func (s *store) RevokeSession(ctx context.Context, id, reason string, now time.Time) (server.Session, error) {
	return timed(s.m, "RevokeSession", func() (server.Session, error) { return s.Store.RevokeSession(ctx, id, reason, now) })
}

func (s *store) RevokedSince(ctx context.Context, since time.Time) ([]server.Revocation, error) {
	return timed(s.m, "RevokedSince", func() ([]server.Revocation, error) { return s.Store.RevokedSince(ctx, since) })
}

func (s *store) UserSessions(ctx context.Context, userID int64, now time.Time, limit int) ([]server.Session, error) {
	return timed(s.m, "UserSessions", func() ([]server.Session, error) { return s.Store.UserSessions(ctx, userID, now, limit) })
}

func (s *store) RevokeUserSessions(ctx context.Context, userID int64, reason string, now time.Time) ([]string, error) {
	return timed(s.m, "RevokeUserSessions", func() ([]string, error) { return s.Store.RevokeUserSessions(ctx, userID, reason, now) })
}

func (s *store) AuditSince(ctx context.Context, since time.Time, afterID int64, limit int) ([]server.AuditEvent, error) {
	return timed(s.m, "AuditSince", func() ([]server.AuditEvent, error) { return s.Store.AuditSince(ctx, since, afterID, limit) })
}

func (s *store) DeleteExpired(ctx context.Context, before time.Time) (int64, error) {
	return timed(s.m, "DeleteExpired", func() (int64, error) { return s.Store.DeleteExpired(ctx, before) })
}

func (s *store) Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error) {
	start := time.Now()
	v, err := s.Store.Secret(ctx, name, generate)
	s.m.storeCall("Secret", start, err)
	return v, err
}

func (s *store) EnsureSigningKey(ctx context.Context, k server.SigningKey) (server.SigningKey, error) {
	return timed(s.m, "EnsureSigningKey", func() (server.SigningKey, error) { return s.Store.EnsureSigningKey(ctx, k) })
}

func (s *store) RotateSigningKey(ctx context.Context, k server.SigningKey, retireOld time.Time) error {
	return timedErr(s.m, "RotateSigningKey", func() error { return s.Store.RotateSigningKey(ctx, k, retireOld) })
}

func (s *store) SigningKeys(ctx context.Context, now time.Time) ([]server.SigningKey, error) {
	return timed(s.m, "SigningKeys", func() ([]server.SigningKey, error) { return s.Store.SigningKeys(ctx, now) })
}

func (s *store) PruneSessions(ctx context.Context, endedBefore time.Time, limit int) (int64, error) {
	return timed(s.m, "PruneSessions", func() (int64, error) { return s.Store.PruneSessions(ctx, endedBefore, limit) })
}

func (s *store) Probe(ctx context.Context, now time.Time) error {
	return timedErr(s.m, "Probe", func() error { return s.Store.Probe(ctx, now) })
}

func (s *store) SetServerSetting(ctx context.Context, name, value string, now time.Time) error {
	return timedErr(s.m, "SetServerSetting", func() error { return s.Store.SetServerSetting(ctx, name, value, now) })
}

func (s *store) ServerSetting(ctx context.Context, name string) (server.ServerSetting, error) {
	return timed(s.m, "ServerSetting", func() (server.ServerSetting, error) { return s.Store.ServerSetting(ctx, name) })
}
