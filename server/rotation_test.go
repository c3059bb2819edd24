package server

import (
	"errors"
	"testing"
	"time"
)

func TestDecideRotation(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	grace := 10 * time.Second
	live := Session{ID: "s", ExpiresAt: now.Add(time.Hour)}
	expired := Session{ID: "s", ExpiresAt: now}
	revoked := Session{ID: "s", ExpiresAt: now.Add(time.Hour), RevokedAt: now.Add(-time.Minute), RevokeReason: RevokeLogout}
	revokedExpired := Session{ID: "s", ExpiresAt: now.Add(-time.Second), RevokedAt: now.Add(-time.Minute), RevokeReason: RevokeLogout}
	// fresh is an unused token of a live family whose user exists.
	fresh := RotationFacts{TokenFound: true, Session: live, UserFound: true}
	with := func(f RotationFacts, change func(*RotationFacts)) RotationFacts { change(&f); return f }
	usedAgo := func(d time.Duration, child bool, childUsed time.Time) func(*RotationFacts) {
		return func(f *RotationFacts) { f.UsedAt, f.ChildFound, f.ChildUsedAt = now.Add(-d), child, childUsed }
	}

	for _, tc := range []struct {
		name  string
		facts RotationFacts
		want  RotationOutcome
	}{
		{"an unknown token is unknown, whatever else is set", RotationFacts{Session: revoked, UsedAt: now}, RotationUnknown},
		{"an unused token of a live family is fresh", fresh, RotationFresh},
		{"a revoked family is revoked", with(fresh, func(f *RotationFacts) { f.Session = revoked }), RotationRevoked},
		{"a revoked and expired family is revoked", with(fresh, func(f *RotationFacts) { f.Session = revokedExpired }), RotationRevoked},
		{"a family whose user is gone is revoked", with(fresh, func(f *RotationFacts) { f.UserFound = false }), RotationRevoked},
		{"an expired family whose user is gone is revoked", with(fresh, func(f *RotationFacts) { f.Session, f.UserFound = expired, false }), RotationRevoked},
		{"a family expiring exactly now is expired", with(fresh, func(f *RotationFacts) { f.Session = expired }), RotationExpired},
		{"an expired family's spent token is expired, not reuse", with(with(fresh, usedAgo(time.Hour, true, now)), func(f *RotationFacts) { f.Session = expired }), RotationExpired},
		{"a revoked family's just-spent token is revoked, not a replay", with(with(fresh, usedAgo(time.Second, true, time.Time{})), func(f *RotationFacts) { f.Session = revoked }), RotationRevoked},
		{"a token spent within grace with an unused child replays", with(fresh, usedAgo(time.Second, true, time.Time{})), RotationReplay},
		{"a token spent exactly grace ago with an unused child replays", with(fresh, usedAgo(grace, true, time.Time{})), RotationReplay},
		{"a token spent just past grace is reuse", with(fresh, usedAgo(grace+time.Millisecond, true, time.Time{})), RotationReuse},
		{"a token spent within grace whose child was spent is reuse", with(fresh, usedAgo(time.Second, true, now)), RotationReuse},
		{"a token spent within grace without a child is reuse", with(fresh, usedAgo(time.Second, false, time.Time{})), RotationReuse},
		{"a token spent on a clock slightly ahead replays", with(fresh, usedAgo(-time.Second, true, time.Time{})), RotationReplay},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := DecideRotation(tc.facts, RotateRequest{Now: now, Grace: grace})
			if got != tc.want {
				t.Errorf("DecideRotation = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRotationOutcomeErr(t *testing.T) {
	t.Parallel()
	for o, want := range map[RotationOutcome]error{
		RotationUnknown: ErrNotFound, RotationRevoked: ErrSessionRevoked, RotationExpired: ErrSessionExpired,
		RotationFresh: nil, RotationReplay: nil, RotationReuse: ErrReuseDetected,
	} {
		if err := o.Err(); !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("%v.Err() = %v, want %v", o, err, want)
		}
	}
}

// TestRotationRules checks the table behind DecideRotation: every fact it asks about is one
// Holds answers, and RotationRules hands out a copy that cannot change the rules.
func TestRotationRules(t *testing.T) {
	t.Parallel()
	rules := RotationRules()
	if len(rules) == 0 {
		t.Fatal("no rules")
	}
	for _, r := range rules {
		for _, test := range r.If {
			test.Fact.Holds(RotationFacts{}, RotateRequest{}) // panics on a fact it does not know
		}
	}
	rules[0].Outcome, rules[0].If[0].Want = RotationFresh, true
	if again := RotationRules(); again[0].Outcome != RotationUnknown || again[0].If[0].Want {
		t.Errorf("changing the copy changed the rules: %+v", again[0])
	}
	if got := DecideRotation(RotationFacts{}, RotateRequest{}); got != RotationUnknown {
		t.Errorf("an unknown token after the copy changed: %v", got)
	}
}
