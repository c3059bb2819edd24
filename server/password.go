package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are argon2id's cost parameters.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultArgon2 is OWASP's minimum recommendation for argon2id.
var DefaultArgon2 = Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
	// Bounds on parameters read from a stored hash, so that a corrupt or hostile row cannot
	// ask for gigabytes or minutes per login.
	maxMemory  = 1 << 20 // KiB: 1 GiB
	maxTime    = 100
	maxThreads = 64
)

var errBadHash = errors.New("malformed argon2id hash")

func (p Argon2Params) valid() bool {
	return p.Threads >= 1 && p.Threads <= maxThreads && p.Time >= 1 && p.Time <= maxTime &&
		p.Memory >= 8*uint32(p.Threads) && p.Memory <= maxMemory
}

// PasswordHasher hashes and verifies argon2id passwords, running at most a fixed number of
// hashes at once so that a burst of logins cannot exhaust memory (each costs Memory KiB).
type PasswordHasher struct {
	p   Argon2Params
	sem chan struct{}
	// idKeyFunc is argon2.IDKey; tests wrap it to count the hashes running at once.
	idKeyFunc func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte

	dummyOnce sync.Once
	dummy     string
}

// NewPasswordHasher returns a hasher for p allowing concurrency hashes at once (≤ 0: one
// per usable CPU).
func NewPasswordHasher(p Argon2Params, concurrency int) *PasswordHasher {
	if concurrency <= 0 {
		concurrency = runtime.GOMAXPROCS(0)
	}
	return &PasswordHasher{p: p, sem: make(chan struct{}, concurrency), idKeyFunc: argon2.IDKey}
}

// idKey runs argon2id inside the concurrency bound; waiting for a slot honours ctx.
func (h *PasswordHasher) idKey(ctx context.Context, p Argon2Params, password string, salt []byte, n uint32) ([]byte, error) {
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for a password hashing slot: %w", ctx.Err())
	}
	defer func() { <-h.sem }()
	return h.idKeyFunc([]byte(password), salt, p.Time, p.Memory, p.Threads, n), nil
}

// Hash returns the PHC string of password with a fresh salt.
func (h *PasswordHasher) Hash(ctx context.Context, password string) (string, error) {
	if !h.p.valid() {
		// argon2 panics on some of these and silently changes others.
		return "", fmt.Errorf("argon2id parameters out of range: %+v", h.p)
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("read salt: %w", err)
	}
	key, err := h.idKey(ctx, h.p, password, salt, keyLen)
	if err != nil {
		return "", err
	}
	return encodePHC(h.p, salt, key), nil
}

// Verify reports whether password matches the encoded hash, comparing in constant time.
// The cost parameters come from the hash, so old hashes keep verifying after a change.
func (h *PasswordHasher) Verify(ctx context.Context, encoded, password string) (bool, error) {
	p, salt, want, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	got, err := h.idKey(ctx, p, password, salt, uint32(len(want)))
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// VerifyDummy spends what Verify spends against a hash made with the hasher's parameters,
// so that a login for an unknown user takes as long as a wrong password.
func (h *PasswordHasher) VerifyDummy(ctx context.Context, password string) {
	h.dummyOnce.Do(func() {
		secret := make([]byte, 32)
		rand.Read(secret) // never fails (crypto/rand)
		// Background: the one hash that makes the dummy must not be lost to one caller's
		// cancelled context, or every later call would be fast.
		h.dummy, _ = h.Hash(context.Background(), string(secret))
	})
	_, _ = h.Verify(ctx, h.dummy, password)
}

func encodePHC(p Argon2Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// parsePHC reads "$argon2id$v=19$m=…,t=…,p=…$salt$hash", accepting only the canonical form
// this package writes and parameters within bounds.
func parsePHC(s string) (Argon2Params, []byte, []byte, error) {
	fail := func() (Argon2Params, []byte, []byte, error) { return Argon2Params{}, nil, nil, errBadHash }
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return fail()
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return fail()
	}
	var vals [3]uint64
	for i, prefix := range []string{"m=", "t=", "p="} {
		digits, ok := strings.CutPrefix(params[i], prefix)
		// Canonical decimal only: no sign, no leading zero, so one hash has one spelling.
		if !ok || digits == "" || digits[0] < '1' || digits[0] > '9' {
			return fail()
		}
		v, err := strconv.ParseUint(digits, 10, 32)
		if err != nil {
			return fail()
		}
		vals[i] = v
	}
	if vals[2] > maxThreads {
		return fail()
	}
	p := Argon2Params{Memory: uint32(vals[0]), Time: uint32(vals[1]), Threads: uint8(vals[2])}
	if !p.valid() {
		return fail()
	}
	salt, ok := decodePHCBase64(parts[4])
	if !ok || len(salt) < 8 || len(salt) > 64 {
		return fail()
	}
	key, ok := decodePHCBase64(parts[5])
	if !ok || len(key) < 16 || len(key) > 64 {
		return fail()
	}
	return p, salt, key, nil
}

// decodePHCBase64 accepts only canonical unpadded base64: the decoder alone skips CR and LF.
func decodePHCBase64(s string) ([]byte, bool) {
	b, err := base64.RawStdEncoding.Strict().DecodeString(s)
	if err != nil || base64.RawStdEncoding.EncodeToString(b) != s {
		return nil, false
	}
	return b, true
}
