package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// retiredKeyKept is how long the store keeps a key after `keys rotate` replaced it. It only
// has to outlast the longest schedule any replica may run (publish delay + MaxAccessTTL +
// a minute); each replica stops trusting the old key much sooner, by its own AccessTTL
// (see schedule). An upper bound is all the rotating command needs to know.
const retiredKeyKept = MaxAccessTTL + time.Hour

// RotateSigningKey generates a new key for alg and makes it the store's active one; the
// previous keys of alg stay in the store for retiredKeyKept. Serving processes publish the
// new key at once, sign with it after their publish delay and drop the old one when no token
// it signed can still be valid, so the caller needs to know none of their settings.
//
// It refuses (a *SigningMismatchError) when the servers on the store would never use the
// key: they sign with a key file (--signing-key), or with another algorithm. It goes by what
// the server started last recorded (ServerSettingSigning); a store no server has recorded
// anything in is rotated as asked.
func RotateSigningKey(ctx context.Context, st Store, alg string, now time.Time) (SigningKey, error) {
	if err := checkServersSign(ctx, st, alg); err != nil {
		return SigningKey{}, err
	}
	k, err := GenerateSigningKey(alg, now)
	if err != nil {
		return SigningKey{}, err
	}
	if err := st.RotateSigningKey(ctx, k, now.Add(retiredKeyKept)); err != nil {
		return SigningKey{}, fmt.Errorf("rotate signing key: %w", err)
	}
	return k, nil
}

// keyStore is what the key schedule needs from the Store.
type keyStore interface {
	EnsureSigningKey(ctx context.Context, k SigningKey) (SigningKey, error)
	SigningKeys(ctx context.Context, now time.Time) ([]SigningKey, error)
	SetServerSetting(ctx context.Context, name, value string, now time.Time) error
}

// ServerSettingSigning is the server setting under which a serving process records, at
// start, how it signs: a signingSetting in JSON.
const ServerSettingSigning = "signing"

// signingSetting is how the servers on a store sign, as `keys rotate` needs to know.
type signingSetting struct {
	Alg     string `json:"alg"`
	KeyFile bool   `json:"key_file"` // --signing-key: the store's keys are not used
}

// recordSigning records how this process signs, for `authctl keys rotate` on the store.
func recordSigning(ctx context.Context, st keyStore, cfg Config, now time.Time) error {
	v, err := json.Marshal(signingSetting{Alg: cfg.SigningAlg, KeyFile: cfg.SigningKey != nil})
	if err != nil {
		return err
	}
	if err := st.SetServerSetting(ctx, ServerSettingSigning, string(v), now); err != nil {
		return fmt.Errorf("record signing settings: %w", err)
	}
	return nil
}

// SigningMismatchError is RotateSigningKey's refusal: the servers on the store sign in a way
// that a new key of the asked algorithm in the store would not change.
type SigningMismatchError struct {
	Asked      string    // the algorithm of the key asked for
	ServerAlg  string    // the algorithm the servers sign with
	KeyFile    bool      // the servers sign with --signing-key
	RecordedAt time.Time // when the server started last recorded it
}

func (e *SigningMismatchError) Error() string {
	when := e.RecordedAt.UTC().Format(time.RFC3339)
	if e.KeyFile {
		return fmt.Sprintf("the servers on this database sign with a key file (--signing-key, %s; recorded at their start, %s): "+
			"a key rotated into the database would never be used. Rotate by replacing the key file "+
			"(authctl keys generate --alg %s --out FILE) and restarting them", e.ServerAlg, when, e.ServerAlg)
	}
	return fmt.Sprintf("the servers on this database sign with %s (recorded at their start, %s), so a new %s key would never be used: "+
		"run authctl keys rotate --signing-alg %s, or restart the servers with --signing-alg %s (they create its first key themselves)",
		e.ServerAlg, when, e.Asked, e.ServerAlg, e.Asked)
}

// settingReader is what checkServersSign needs from the Store.
type settingReader interface {
	ServerSetting(ctx context.Context, name string) (ServerSetting, error)
}

// checkServersSign refuses a rotation of alg that the servers recorded on st would not use.
func checkServersSign(ctx context.Context, st settingReader, alg string) error {
	rec, err := st.ServerSetting(ctx, ServerSettingSigning)
	if errors.Is(err, ErrNotFound) {
		return nil // no server has started on this store since it could record how it signs
	}
	if err != nil {
		return fmt.Errorf("read how the servers sign: %w", err)
	}
	var s signingSetting
	if err := json.Unmarshal([]byte(rec.Value), &s); err != nil || s.Alg == "" {
		return fmt.Errorf("read how the servers sign: unreadable record %q", rec.Value)
	}
	if s.KeyFile || s.Alg != alg {
		return &SigningMismatchError{Asked: alg, ServerAlg: s.Alg, KeyFile: s.KeyFile, RecordedAt: rec.UpdatedAt}
	}
	return nil
}

// keySchedule owns the signing keys of one algorithm: it loads them, picks which one signs,
// drops those no live token can need, and hands out the current KeySet to sign and verify.
// Readers never block: the KeySet is swapped atomically.
type keySchedule struct {
	store        keyStore
	alg          string
	now          func() time.Time
	publishDelay time.Duration
	accessTTL    time.Duration
	static       bool // keys came from --signing-key; never reloaded

	set   atomic.Pointer[KeySet]
	print string // keyPrint of set; touched only by newKeySchedule and then Run's goroutine
}

// newKeySchedule loads the keys: the --signing-key contents when given, else the store's,
// creating the first key when the store has none for the algorithm.
func newKeySchedule(ctx context.Context, cfg Config, st keyStore) (*keySchedule, error) {
	k := &keySchedule{
		store:        st,
		alg:          cfg.SigningAlg,
		now:          cfg.Now,
		publishDelay: cfg.publishDelay(),
		accessTTL:    cfg.AccessTTL,
	}
	now := k.now()
	if cfg.SigningKey != nil {
		key, err := ParseSigningKey(cfg.SigningAlg, cfg.SigningKey, now)
		if err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
		set, err := NewKeySet(cfg.SigningAlg, []SigningKey{key})
		if err != nil {
			return nil, err
		}
		k.set.Store(set)
		k.static = true
	} else if err := k.loadStored(ctx, now); err != nil {
		return nil, err
	}
	if err := recordSigning(ctx, st, cfg, now); err != nil {
		return nil, err
	}
	return k, nil
}

// loadStored loads the store's keys, creating the first one when it has none for k.alg.
func (k *keySchedule) loadStored(ctx context.Context, now time.Time) error {
	first, err := GenerateSigningKey(k.alg, now)
	if err != nil {
		return fmt.Errorf("generate signing key: %w", err)
	}
	if _, err := k.store.EnsureSigningKey(ctx, first); err != nil {
		return fmt.Errorf("store signing key: %w", err)
	}
	return k.reload(ctx)
}

// reload picks up keys added or retired by other processes (`authctl keys rotate`) and moves
// the schedule on as time passes.
func (k *keySchedule) reload(ctx context.Context) error {
	if k.static {
		return nil
	}
	now := k.now()
	all, err := k.store.SigningKeys(ctx, now)
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	var keys []SigningKey
	for _, key := range all {
		if key.Alg == k.alg {
			keys = append(keys, key)
		}
	}
	keys = schedule(keys, now, k.publishDelay, k.accessTTL)
	fp := keyPrint(keys)
	if fp == k.print {
		return nil
	}
	set, err := NewKeySet(k.alg, keys)
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	k.set.Store(set)
	k.print = fp
	return nil
}

// current is the KeySet to sign and verify with now.
func (k *keySchedule) current() *KeySet { return k.set.Load() }

// schedule decides, from keys newest first (as SigningKeys returns them), which key signs and
// which are still worth trusting.
//
// A key made by `authctl keys rotate` is published (in JWKS and every replica's verification
// map) for publishDelay before anyone signs with it, so no replica refuses a token signed
// with a key it has not loaded yet; until then the newest older key keeps signing. When every
// key is that new (first start), the oldest signs.
//
// An older key stopped signing when its successor (the next newer key) started, at the
// successor's CreatedAt + publishDelay; a token it signed lives at most accessTTL longer. A
// minute after that the key is dropped from JWKS and verification, long before the store's
// own retirement bound (retiredKeyKept) removes it.
func schedule(keys []SigningKey, now time.Time, publishDelay, accessTTL time.Duration) []SigningKey {
	signer := -1
	for i, k := range keys {
		if !k.CreatedAt.After(now.Add(-publishDelay)) {
			signer = i
			break
		}
	}
	if signer < 0 && len(keys) > 0 {
		signer = len(keys) - 1 // all are new: the one published longest
	}
	out := make([]SigningKey, 0, len(keys))
	for i, k := range keys {
		if i > 0 && now.After(keys[i-1].CreatedAt.Add(publishDelay+accessTTL+time.Minute)) {
			break // this key and every older one: no token they signed is still valid
		}
		k.Active = i == signer
		out = append(out, k)
	}
	return out
}

// keyPrint identifies a key list, so that an unchanged list is not rebuilt every poll.
func keyPrint(keys []SigningKey) string {
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k.KID)
		if k.Active {
			b.WriteByte('*')
		}
		b.WriteByte(' ')
	}
	return b.String()
}
