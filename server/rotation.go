package server

import "time"

// RotationFacts is what a Store reads about a presented refresh token, inside the transaction
// and under the lock in which it will write the outcome. DecideRotation turns them into that
// outcome, so that every store applies the same rules in the same order.
type RotationFacts struct {
	TokenFound bool      // the presented hash is stored
	UsedAt     time.Time // when the presented token was rotated; zero while unused
	Session    Session   // the token's family
	User       User      // the family's user
	UserFound  bool      // the user still exists
	ChildFound bool      // a token whose parent is the presented one exists
	// ChildUsedAt is when that child was rotated in its turn; zero while unused.
	ChildUsedAt time.Time
}

// RotationOutcome is the rule that applies to a presented refresh token.
type RotationOutcome int

// The outcomes, in the order DecideRotation checks them.
const (
	// RotationUnknown: no such token; Rotate returns ErrNotFound.
	RotationUnknown RotationOutcome = iota
	// RotationRevoked: the family was revoked, or its user is gone; ErrSessionRevoked.
	RotationRevoked
	// RotationExpired: the family is past its absolute lifetime; ErrSessionExpired.
	RotationExpired
	// RotationFresh: the token is unused; mark it used and store its successor.
	RotationFresh
	// RotationReplay: the token was rotated at most Grace ago and its successor is still
	// unused — a lost response or a parallel client; answer with that successor, write nothing.
	RotationReplay
	// RotationReuse: any other use of a spent token; revoke the family with RevokeReuse and
	// return ErrReuseDetected.
	RotationReuse
)

var outcomeNames = [...]string{"unknown", "revoked", "expired", "fresh", "replay", "reuse"}

func (o RotationOutcome) String() string {
	if o < 0 || int(o) >= len(outcomeNames) {
		return "RotationOutcome(?)"
	}
	return outcomeNames[o]
}

// Err is the error Rotate returns with the outcome: nil for a fresh rotation or a replay.
func (o RotationOutcome) Err() error {
	switch o {
	case RotationUnknown:
		return ErrNotFound
	case RotationRevoked:
		return ErrSessionRevoked
	case RotationExpired:
		return ErrSessionExpired
	case RotationReuse:
		return ErrReuseDetected
	}
	return nil
}

// DecideRotation is the rotation rule set, written once for every store. The order matters
// where several apply: a family that is both revoked and expired reports the revocation (the
// stronger statement, and the one a logged-out client should see), and a family whose user
// was deleted counts as revoked whatever its age. Only a live family distinguishes a fresh
// use, a benign replay and a reuse.
func DecideRotation(f RotationFacts, req RotateRequest) RotationOutcome {
	switch {
	case !f.TokenFound:
		return RotationUnknown
	case f.Session.Revoked() || !f.UserFound:
		return RotationRevoked
	case !req.Now.Before(f.Session.ExpiresAt):
		return RotationExpired
	case f.UsedAt.IsZero():
		return RotationFresh
	case req.Now.Sub(f.UsedAt) <= req.Grace && f.ChildFound && f.ChildUsedAt.IsZero():
		return RotationReplay
	}
	return RotationReuse
}
