// Package keystore keeps the client's login session for each server: in the OS keyring
// (Secret Service, macOS Keychain, Windows Credential Manager) or, as a fallback, in a 0600
// file under the user config dir.
package keystore

import (
	"context"
	"errors"
	"time"
)

// Session is what the client keeps for one server.
type Session struct {
	Server        string    `json:"server"` // normalised base URL
	Username      string    `json:"username"`
	AccessToken   string    `json:"access_token"`
	AccessExpiry  time.Time `json:"access_expiry"`
	RefreshToken  string    `json:"refresh_token"`
	RefreshExpiry time.Time `json:"refresh_expiry"`
}

// Store loads, saves and deletes the session for a server.
type Store interface {
	// Load returns ErrNotFound when there is no session for the server.
	Load(ctx context.Context, server string) (Session, error)
	// Save replaces the session for s.Server.
	Save(ctx context.Context, s Session) error
	// Delete removes the session for the server; no error when there is none.
	Delete(ctx context.Context, server string) error
	// Name says where sessions are kept, for `authctl status`.
	Name() string
}

// ErrNotFound means there is no stored session for the server.
var ErrNotFound = errors.New("no stored session")
