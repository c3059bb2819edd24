package server

import (
	"slices"
	"testing"
	"time"
)

func TestSchedule(t *testing.T) {
	t.Parallel()
	const (
		delay = 3 * time.Second
		ttl   = 5 * time.Minute
	)
	t0 := testNow
	key := func(kid string, age time.Duration) SigningKey {
		return SigningKey{KID: kid, Alg: "EdDSA", CreatedAt: t0.Add(-age)}
	}
	// now is t0 throughout; keys are newest first, as SigningKeys returns them.
	for _, c := range []struct {
		name   string
		keys   []SigningKey
		want   []string // kids kept, newest first
		signer string
	}{
		{"a lone key signs, however new", []SigningKey{key("a", 0)}, []string{"a"}, "a"},
		{"on first start with several new keys the oldest signs",
			[]SigningKey{key("b", time.Second), key("a", 2*time.Second)}, []string{"b", "a"}, "a"},
		{"a rotated key is published but does not sign during the publish delay",
			[]SigningKey{key("new", time.Second), key("old", time.Hour)}, []string{"new", "old"}, "old"},
		{"after the publish delay the new key signs and the old one still verifies",
			[]SigningKey{key("new", delay), key("old", time.Hour)}, []string{"new", "old"}, "new"},
		{"the old key stays while a token it signed at the switch can be valid, plus a minute",
			[]SigningKey{key("new", delay+ttl+time.Minute), key("old", time.Hour)}, []string{"new", "old"}, "new"},
		{"then it is dropped",
			[]SigningKey{key("new", delay+ttl+time.Minute+time.Millisecond), key("old", time.Hour)}, []string{"new"}, "new"},
		{"a key replaced twice goes with its successor's schedule, not the newest key's",
			[]SigningKey{key("c", time.Second), key("b", delay+ttl+2*time.Minute), key("a", time.Hour)}, []string{"c", "b"}, "b"},
		{"keys rotated within one publish delay: the newest old enough signs, all are kept",
			[]SigningKey{key("c", time.Second), key("b", 2*time.Second), key("a", time.Hour)}, []string{"c", "b", "a"}, "a"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := schedule(c.keys, t0, delay, ttl)
			var kids []string
			var signers []string
			for _, k := range got {
				kids = append(kids, k.KID)
				if k.Active {
					signers = append(signers, k.KID)
				}
			}
			if !slices.Equal(kids, c.want) || len(signers) != 1 || signers[0] != c.signer {
				t.Errorf("kept %v with signers %v; want %v with signer %s", kids, signers, c.want, c.signer)
			}
		})
	}
}
