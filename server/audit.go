package server

import (
	"context"
	"log/slog"
	"time"
)

// The audit trail: every admin change — a user added, a password set, a user deleted, a
// user's sessions revoked by an admin, a signing key rotated — leaves an AuditEvent in the
// store, whichever process made it (the CLI on --db, or a server for the admin API), and
// every running server writes one log line per event it finds there.

// Actor is who makes an admin change.
type Actor struct {
	Name string // the admin's username (ViaAPI), or the operating-system account (ViaCLI)
	Via  string // ViaAPI or ViaCLI
	Addr string // the client's address (ViaAPI), or the host the command ran on (ViaCLI)
}

// Where an admin change came from.
const (
	ViaAPI = "api" // the admin HTTP API, authenticated as a user with role admin
	ViaCLI = "cli" // an `authctl user …` or `authctl keys …` command on the store itself
)

// AuditEvent is one admin change, as stored.
type AuditEvent struct {
	ID      int64 // assigned by the store, increasing
	At      time.Time
	Actor   Actor
	Action  string // one of the Audit… actions; also the log line's event field
	Subject string // the user name, or the key id for AuditKeyRotated
	Detail  string // key=value pairs: role=ops, sessions_revoked=2, sid=…, alg=EdDSA
}

// Audit actions. They are the `event` field of the log lines, so they never change.
const (
	AuditUserAdded         = "user_added"
	AuditPasswordChanged   = "user_password_changed"
	AuditUserDeleted       = "user_deleted"
	AuditSessionRevoked    = "session_revoked"  // one session of a user, by an admin
	AuditSessionsRevoked   = "sessions_revoked" // every session of a user, by an admin
	AuditSigningKeyRotated = "signing_key_rotated"
)

type actorKey struct{}

// WithActor returns ctx saying that actor makes the changes done with it: the Store then
// audits them in their own transactions (see Store). The actor travels in the context,
// like a request id, so that the Store methods keep the signatures every caller and
// wrapper knows, and an audit row cannot be written apart from its change.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor WithActor put in ctx.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}

// auditFeed is what the audit log reads from the Store.
type auditFeed interface {
	AuditSince(ctx context.Context, since time.Time, afterID int64, limit int) ([]AuditEvent, error)
}

const (
	// auditOverlap is how far back each poll re-reads, so that a writer's clock running
	// behind ours, or a transaction committing after a later one, cannot hide an event
	// between two polls. Events seen already are recognised by id.
	auditOverlap = 30 * time.Second
	// auditPage is how many events one read returns; a poll pages on until one is short.
	auditPage = 500
)

// auditLog writes one log line for every audit event stored while the server runs, each
// once per process. Events from before the start are not repeated: the store keeps them.
// Every replica logs every event (each has its audit_id, so a log pipeline can merge them).
type auditLog struct {
	feed auditFeed
	log  *slog.Logger
	now  func() time.Time

	last time.Time           // start of the last successful poll
	seen map[int64]time.Time // ids read within the overlap, by their time
}

func newAuditLog(feed auditFeed, log *slog.Logger, now func() time.Time) *auditLog {
	return &auditLog{feed: feed, log: log, now: now, seen: make(map[int64]time.Time)}
}

// load notes the events of the overlap before the start as seen, without logging them.
func (a *auditLog) load(ctx context.Context) error {
	start := a.now()
	if err := a.read(ctx, start.Add(-auditOverlap), false); err != nil {
		return err
	}
	a.last = start
	return nil
}

// poll logs the events stored since the last poll.
func (a *auditLog) poll(ctx context.Context) error {
	start := a.now()
	if err := a.read(ctx, a.last.Add(-auditOverlap), true); err != nil {
		return err
	}
	a.last = start
	for id, at := range a.seen {
		if at.Before(start.Add(-auditOverlap)) {
			delete(a.seen, id)
		}
	}
	return nil
}

func (a *auditLog) read(ctx context.Context, since time.Time, write bool) error {
	var after int64
	for {
		evs, err := a.feed.AuditSince(ctx, since, after, auditPage)
		if err != nil {
			return err
		}
		for _, ev := range evs {
			if _, ok := a.seen[ev.ID]; ok {
				continue
			}
			a.seen[ev.ID] = ev.At
			if write {
				logAudit(ctx, a.log, ev)
			}
		}
		if len(evs) < auditPage {
			return nil
		}
		// A full page may have more behind it: go on after its last event.
		since, after = evs[len(evs)-1].At, evs[len(evs)-1].ID
	}
}

// logAudit writes the one line of an event. Changes that end sessions are WARN, as the
// other security events are; additions and key rotations INFO.
func logAudit(ctx context.Context, log *slog.Logger, ev AuditEvent) {
	level := slog.LevelInfo
	switch ev.Action {
	case AuditPasswordChanged, AuditUserDeleted, AuditSessionRevoked, AuditSessionsRevoked:
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("event", ev.Action),
		slog.String("actor", ev.Actor.Name),
		slog.String("via", ev.Actor.Via),
	}
	if ev.Actor.Addr != "" {
		attrs = append(attrs, slog.String("addr", logAddr(ev.Actor.Addr)))
	}
	subject := "user"
	if ev.Action == AuditSigningKeyRotated {
		subject = "kid"
	}
	attrs = append(attrs, slog.String(subject, ev.Subject))
	if ev.Detail != "" {
		attrs = append(attrs, slog.String("detail", ev.Detail))
	}
	attrs = append(attrs, slog.Int64("audit_id", ev.ID), slog.Time("at", ev.At))
	log.LogAttrs(ctx, level, "admin change", attrs...)
}
