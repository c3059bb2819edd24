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

// A RotationFact is one yes-or-no question the rules ask about a presented token. Holds
// answers it in Go; a store that decides in SQL (server/sqlstore, PostgreSQL) spells each
// fact as an SQL condition and renders RotationRules around them, so that the rules and their
// order are still written only here.
type RotationFact int

// The facts. Each is false where what it asks about is missing: an unknown token has no
// session to have expired, an unused one no spending to be within grace of.
const (
	FactTokenFound     RotationFact = iota // the presented hash is stored
	FactSessionRevoked                     // its family was revoked
	FactUserFound                          // the family's user still exists
	FactSessionExpired                     // Now is at or past the family's ExpiresAt
	FactUnused                             // the token was never rotated
	FactWithinGrace                        // it was rotated at most Grace before Now
	FactChildFound                         // its successor is stored
	FactChildUnused                        // its successor exists and was never rotated
)

// Holds answers the fact for f at req.Now.
func (q RotationFact) Holds(f RotationFacts, req RotateRequest) bool {
	switch q {
	case FactTokenFound:
		return f.TokenFound
	case FactSessionRevoked:
		return f.TokenFound && f.Session.Revoked()
	case FactUserFound:
		return f.TokenFound && f.UserFound
	case FactSessionExpired:
		return f.TokenFound && !req.Now.Before(f.Session.ExpiresAt)
	case FactUnused:
		return f.TokenFound && f.UsedAt.IsZero()
	case FactWithinGrace:
		return f.TokenFound && !f.UsedAt.IsZero() && req.Now.Sub(f.UsedAt) <= req.Grace
	case FactChildFound:
		return f.TokenFound && f.ChildFound
	case FactChildUnused:
		return f.TokenFound && f.ChildFound && f.ChildUsedAt.IsZero()
	}
	panic("server: unknown RotationFact")
}

// A RotationTest asks that a fact holds (Want true) or does not.
type RotationTest struct {
	Fact RotationFact
	Want bool
}

// A RotationRule gives its Outcome when every one of its tests passes.
type RotationRule struct {
	Outcome RotationOutcome
	If      []RotationTest
}

// The rotation rule set, written once for every store: the first rule whose tests all pass
// decides, and a token no rule takes is reused (RotationReuse). The order matters where
// several apply: a family that is both revoked and expired reports the revocation (the
// stronger statement, and the one a logged-out client should see), and a family whose user
// was deleted counts as revoked whatever its age. Only a live family distinguishes a fresh
// use, a benign replay and a reuse.
var rotationRules = []RotationRule{
	{RotationUnknown, []RotationTest{{FactTokenFound, false}}},
	{RotationRevoked, []RotationTest{{FactSessionRevoked, true}}},
	{RotationRevoked, []RotationTest{{FactUserFound, false}}},
	{RotationExpired, []RotationTest{{FactSessionExpired, true}}},
	{RotationFresh, []RotationTest{{FactUnused, true}}},
	{RotationReplay, []RotationTest{{FactWithinGrace, true}, {FactChildUnused, true}}},
}

// RotationRules returns the rule set in order, for a store that renders it (a copy: the rules
// cannot be changed from outside).
func RotationRules() []RotationRule {
	out := make([]RotationRule, len(rotationRules))
	for i, r := range rotationRules {
		out[i] = RotationRule{Outcome: r.Outcome, If: append([]RotationTest(nil), r.If...)}
	}
	return out
}

// DecideRotation applies the rule set (RotationRules) to f.
func DecideRotation(f RotationFacts, req RotateRequest) RotationOutcome {
rules:
	for _, r := range rotationRules {
		for _, t := range r.If {
			if t.Fact.Holds(f, req) != t.Want {
				continue rules
			}
		}
		return r.Outcome
	}
	return RotationReuse
}
