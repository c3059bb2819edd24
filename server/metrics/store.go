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
	start := time.Now()
	v, err := s.Store.CreateUser(ctx, name, role, passwordHash, now)
	s.m.storeCall("CreateUser", start, err)
	return v, err
}

func (s *store) UserByName(ctx context.Context, name string) (server.User, error) {
	start := time.Now()
	v, err := s.Store.UserByName(ctx, name)
	s.m.storeCall("UserByName", start, err)
	return v, err
}

func (s *store) UserByID(ctx context.Context, id int64) (server.User, error) {
	start := time.Now()
	v, err := s.Store.UserByID(ctx, id)
	s.m.storeCall("UserByID", start, err)
	return v, err
}

func (s *store) ListUsers(ctx context.Context) ([]server.User, error) {
	start := time.Now()
	v, err := s.Store.ListUsers(ctx)
	s.m.storeCall("ListUsers", start, err)
	return v, err
}

func (s *store) CountUsers(ctx context.Context) (int, error) {
	start := time.Now()
	v, err := s.Store.CountUsers(ctx)
	s.m.storeCall("CountUsers", start, err)
	return v, err
}

func (s *store) SetPassword(ctx context.Context, name, passwordHash string, now time.Time) (server.User, error) {
	start := time.Now()
	v, err := s.Store.SetPassword(ctx, name, passwordHash, now)
	s.m.storeCall("SetPassword", start, err)
	return v, err
}

func (s *store) DeleteUser(ctx context.Context, name string, now time.Time) (server.User, error) {
	start := time.Now()
	v, err := s.Store.DeleteUser(ctx, name, now)
	s.m.storeCall("DeleteUser", start, err)
	return v, err
}

func (s *store) CreateSession(ctx context.Context, sess server.Session, first server.RefreshToken) error {
	start := time.Now()
	err := s.Store.CreateSession(ctx, sess, first)
	s.m.storeCall("CreateSession", start, err)
	return err
}

func (s *store) Session(ctx context.Context, id string) (server.Session, error) {
	start := time.Now()
	v, err := s.Store.Session(ctx, id)
	s.m.storeCall("Session", start, err)
	return v, err
}

func (s *store) SessionByToken(ctx context.Context, hash []byte) (server.Session, error) {
	start := time.Now()
	v, err := s.Store.SessionByToken(ctx, hash)
	s.m.storeCall("SessionByToken", start, err)
	return v, err
}

func (s *store) Rotate(ctx context.Context, req server.RotateRequest) (server.RotateResult, error) {
	start := time.Now()
	v, err := s.Store.Rotate(ctx, req)
	s.m.storeCall("Rotate", start, err)
	return v, err
}

func (s *store) RevokeSession(ctx context.Context, id, reason string, now time.Time) (server.Session, error) {
	start := time.Now()
	v, err := s.Store.RevokeSession(ctx, id, reason, now)
	s.m.storeCall("RevokeSession", start, err)
	return v, err
}

func (s *store) RevokedSince(ctx context.Context, since time.Time) ([]server.Revocation, error) {
	start := time.Now()
	v, err := s.Store.RevokedSince(ctx, since)
	s.m.storeCall("RevokedSince", start, err)
	return v, err
}

func (s *store) UserSessions(ctx context.Context, userID int64, now time.Time, limit int) ([]server.Session, error) {
	start := time.Now()
	v, err := s.Store.UserSessions(ctx, userID, now, limit)
	s.m.storeCall("UserSessions", start, err)
	return v, err
}

func (s *store) RevokeUserSessions(ctx context.Context, userID int64, reason string, now time.Time) ([]string, error) {
	start := time.Now()
	v, err := s.Store.RevokeUserSessions(ctx, userID, reason, now)
	s.m.storeCall("RevokeUserSessions", start, err)
	return v, err
}

func (s *store) AuditSince(ctx context.Context, since time.Time, afterID int64, limit int) ([]server.AuditEvent, error) {
	start := time.Now()
	v, err := s.Store.AuditSince(ctx, since, afterID, limit)
	s.m.storeCall("AuditSince", start, err)
	return v, err
}

func (s *store) DeleteExpired(ctx context.Context, before time.Time) (int64, error) {
	start := time.Now()
	v, err := s.Store.DeleteExpired(ctx, before)
	s.m.storeCall("DeleteExpired", start, err)
	return v, err
}

func (s *store) Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error) {
	start := time.Now()
	v, err := s.Store.Secret(ctx, name, generate)
	s.m.storeCall("Secret", start, err)
	return v, err
}

func (s *store) EnsureSigningKey(ctx context.Context, k server.SigningKey) (server.SigningKey, error) {
	start := time.Now()
	v, err := s.Store.EnsureSigningKey(ctx, k)
	s.m.storeCall("EnsureSigningKey", start, err)
	return v, err
}

func (s *store) RotateSigningKey(ctx context.Context, k server.SigningKey, retireOld time.Time) error {
	start := time.Now()
	err := s.Store.RotateSigningKey(ctx, k, retireOld)
	s.m.storeCall("RotateSigningKey", start, err)
	return err
}

func (s *store) SigningKeys(ctx context.Context, now time.Time) ([]server.SigningKey, error) {
	start := time.Now()
	v, err := s.Store.SigningKeys(ctx, now)
	s.m.storeCall("SigningKeys", start, err)
	return v, err
}

func (s *store) PruneSessions(ctx context.Context, endedBefore time.Time, limit int) (int64, error) {
	start := time.Now()
	v, err := s.Store.PruneSessions(ctx, endedBefore, limit)
	s.m.storeCall("PruneSessions", start, err)
	return v, err
}

func (s *store) Probe(ctx context.Context, now time.Time) error {
	start := time.Now()
	err := s.Store.Probe(ctx, now)
	s.m.storeCall("Probe", start, err)
	return err
}

func (s *store) SetServerSetting(ctx context.Context, name, value string, now time.Time) error {
	start := time.Now()
	err := s.Store.SetServerSetting(ctx, name, value, now)
	s.m.storeCall("SetServerSetting", start, err)
	return err
}

func (s *store) ServerSetting(ctx context.Context, name string) (server.ServerSetting, error) {
	start := time.Now()
	v, err := s.Store.ServerSetting(ctx, name)
	s.m.storeCall("ServerSetting", start, err)
	return v, err
}
