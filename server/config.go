package server

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/authctl/authctl/jose"
)

// Config is the token server's policy. Start from DefaultConfig and change what differs;
// NewService refuses a Config that Validate rejects and never fills in a missing field.
type Config struct {
	Issuer, Audience string
	AccessTTL        time.Duration // access token lifetime, at most MaxAccessTTL
	RefreshTTL       time.Duration // absolute lifetime of a login session (refresh-token family)
	ReuseGrace       time.Duration // window in which the previous refresh token replays its successor
	SigningAlg       string        // one of jose.Algorithms
	SigningKey       []byte        // contents of --signing-key; nil: generated and persisted in the store
	ClientID         string        // client_id claim and the only public client
	Argon2           Argon2Params
	Limits           LimitConfig
	TokenCacheSize   int           // verified access tokens kept in memory, about 0.6 KiB each
	PollInterval     time.Duration // how often other processes' revocations and keys are read, at most MaxPollInterval
	Now              func() time.Time
}

const (
	// MaxAccessTTL bounds --access-ttl. A rotated-out signing key is kept in the store for
	// retiredKeyKept, which must cover the longest access token any replica can issue; the
	// bound is what lets `keys rotate` work without knowing the servers' settings.
	MaxAccessTTL = 24 * time.Hour
	// MaxPollInterval bounds PollInterval: revocations must reach every replica within
	// seconds, and the key schedule's publish delay grows with it.
	MaxPollInterval = time.Minute
)

// DefaultConfig returns the documented defaults. It is the only place they live.
func DefaultConfig() Config {
	return Config{
		Issuer:         "http://127.0.0.1:5000", // the public URL of the default --addr
		Audience:       "authctl",
		AccessTTL:      5 * time.Minute,
		RefreshTTL:     720 * time.Hour,
		ReuseGrace:     10 * time.Second,
		SigningAlg:     "EdDSA",
		ClientID:       "authctl",
		Argon2:         DefaultArgon2,
		Limits:         DefaultLimits(),
		TokenCacheSize: 10_000,
		PollInterval:   time.Second,
		Now:            time.Now,
	}
}

// Validate reports every problem of c at once, wrapped in ErrInvalidConfig. SigningKey is
// only checked for presence of content here; NewService parses it.
func (c Config) Validate() error {
	var bad []string
	if err := checkIssuer(c.Issuer); err != nil {
		bad = append(bad, err.Error())
	}
	if c.Audience == "" {
		bad = append(bad, "audience must not be empty")
	}
	if c.ClientID == "" {
		bad = append(bad, "client id must not be empty")
	}
	switch {
	case c.AccessTTL < time.Second:
		// expires_in is whole seconds; a shorter lifetime would be announced as 0.
		bad = append(bad, fmt.Sprintf("access TTL must be at least 1s, not %s", c.AccessTTL))
	case c.AccessTTL > MaxAccessTTL:
		bad = append(bad, fmt.Sprintf("access TTL must be at most %s, not %s", MaxAccessTTL, c.AccessTTL))
	}
	if c.RefreshTTL < time.Second {
		bad = append(bad, fmt.Sprintf("refresh TTL must be at least 1s, not %s", c.RefreshTTL))
	}
	if c.ReuseGrace < 0 {
		bad = append(bad, fmt.Sprintf("reuse grace must not be negative, not %s", c.ReuseGrace))
	}
	if !jose.ValidAlg(c.SigningAlg) {
		bad = append(bad, fmt.Sprintf("signing algorithm must be one of %s, not %q",
			strings.Join(jose.Algorithms, ", "), c.SigningAlg))
	}
	if c.SigningKey != nil && len(c.SigningKey) == 0 {
		bad = append(bad, "signing key file is empty")
	}
	if !c.Argon2.valid() {
		bad = append(bad, fmt.Sprintf("argon2 parameters out of range: %+v", c.Argon2))
	}
	bad = append(bad, c.Limits.validate()...)
	if c.TokenCacheSize < 1 {
		bad = append(bad, "token cache size must be at least 1")
	}
	if c.PollInterval <= 0 || c.PollInterval > MaxPollInterval {
		bad = append(bad, fmt.Sprintf("poll interval must be in (0, %s], not %s", MaxPollInterval, c.PollInterval))
	}
	if c.Now == nil {
		bad = append(bad, "clock (Now) must be set")
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, strings.Join(bad, "; "))
	}
	return nil
}

// checkIssuer is where the rule for iss lives: the value is written into every token and
// must match exactly when verifying, so it cannot be empty. RFC 8414 §2 and RFC 9068 want
// the server's URL: http or https, a host, no query or fragment. A plain name without a
// colon (the old default "authctl") is still a valid JWT StringOrURI (RFC 7519 §2) and stays
// allowed here for deployments that keep their tokens verifying; `authctl serve` only
// accepts one with --allow-non-url-issuer. Anything with a colon must be such a URL.
func checkIssuer(iss string) error {
	switch {
	case iss == "":
		return errors.New("issuer must not be empty")
	case strings.ContainsFunc(iss, unicode.IsSpace):
		return fmt.Errorf("issuer %q must not contain spaces", iss)
	case !strings.Contains(iss, ":"):
		return nil
	}
	u, err := url.Parse(iss)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil ||
		u.RawQuery != "" || u.ForceQuery || strings.Contains(iss, "#") {
		return fmt.Errorf("issuer %q must be an http(s) URL with a host and no query or fragment (RFC 8414), or a plain name", iss)
	}
	return nil
}

// publishDelay is how long a new signing key is published before anyone signs with it: two
// polls (so every replica has loaded it) and a second of slack for clock skew.
func (c Config) publishDelay() time.Duration { return 2*c.PollInterval + time.Second }
