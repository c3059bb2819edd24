package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Tokens is what a login or refresh hands out.
type Tokens struct {
	AccessToken      string
	ExpiresIn        int // seconds
	RefreshToken     string
	RefreshExpiresIn int // seconds until the family's absolute expiry
}

const (
	refreshTokenBytes = 32 // 256 bits
	maxRefreshToken   = 512
	chainSecretName   = "refresh-chain-v1"
)

// minter makes tokens: signed access tokens for a session, and the successor of a refresh
// token. It holds no state beyond its settings and the chain secret.
type minter struct {
	keys      *keySchedule
	issuer    string
	audience  string
	clientID  string
	accessTTL time.Duration
	chain     []byte // HMAC key deriving a refresh token's successor
}

// tokens signs an access token for u in sess and pairs it with refresh.
func (m *minter) tokens(u User, sess Session, refresh string, now time.Time) (Tokens, error) {
	jti, err := randomToken(16)
	if err != nil {
		return Tokens{}, err
	}
	claims := AccessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    m.issuer,
			Subject:   strconv.FormatInt(u.ID, 10),
			Audience:  jwt.ClaimStrings{m.audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(m.accessTTL)),
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ID:        jti,
		},
		ClientID: m.clientID,
		Name:     u.Name,
		Role:     u.Role,
		SID:      sess.ID,
	}
	access, err := m.keys.current().Sign(claims)
	if err != nil {
		return Tokens{}, fmt.Errorf("sign access token: %w", err)
	}
	refreshIn := int(sess.ExpiresAt.Sub(now) / time.Second)
	if refreshIn < 1 {
		refreshIn = 1
	}
	return Tokens{
		AccessToken:      access,
		ExpiresIn:        int(m.accessTTL / time.Second),
		RefreshToken:     refresh,
		RefreshExpiresIn: refreshIn,
	}, nil
}

// successor derives the token that replaces t. Deriving it (rather than drawing it at
// random) lets a replay within the grace window answer with the same successor without the
// server ever storing a token in plaintext.
func (m *minter) successor(t string) string {
	h := hmac.New(sha256.New, m.chain)
	h.Write([]byte("authctl refresh successor\x00"))
	h.Write([]byte(t))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// hashToken is the stored form of a refresh token.
func hashToken(t string) []byte {
	h := sha256.Sum256([]byte(t))
	return h[:]
}

// wellFormedRefresh refuses what cannot be one of our refresh tokens before any store call.
func wellFormedRefresh(t string) bool {
	return len(t) >= 16 && len(t) <= maxRefreshToken && base64URL(t)
}

// PlausibleSessionID tells whether id could be a session id (base64url, as a login makes
// them), so that an adapter can refuse anything else before a store is asked about it.
func PlausibleSessionID(id string) bool {
	return id != "" && len(id) <= 64 && base64URL(id)
}

// base64URL tells whether s holds only characters of unpadded base64url, the alphabet of
// every token and id randomToken makes.
func base64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("random: %w", err)
	}
	return b, nil
}

func randomToken(n int) (string, error) {
	b, err := randomBytes(n)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// newSessionID draws a session id (128 bits, base64url) that does not start with '-': ids are
// typed as command-line arguments (`authctl sessions revoke ID`), where a leading '-' reads
// as a flag. Redrawing costs a sixty-fourth of the ids one bit of entropy, no more.
func newSessionID() (string, error) {
	for {
		sid, err := randomToken(16)
		if err != nil || sid[0] != '-' {
			return sid, err
		}
	}
}
