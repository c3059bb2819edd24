package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"
)

const (
	minPasswordLen = 8
	maxPasswordLen = 1024 // argon2 takes any length; this only bounds the work one request asks for
)

// ValidUsername reports whether name is an acceptable username.
func ValidUsername(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '@' || c == '-') {
			return false
		}
	}
	return true
}

func checkPassword(pw string) error {
	if utf8.RuneCountInString(pw) < minPasswordLen {
		return ErrWeakPassword
	}
	if len(pw) > maxPasswordLen {
		return fmt.Errorf("password too long: at most %d bytes", maxPasswordLen)
	}
	return nil
}

// AddUser creates a user with an argon2id hash of the password.
func AddUser(ctx context.Context, st Store, h *PasswordHasher, name, role, password string, now time.Time) (User, error) {
	if !ValidUsername(name) {
		return User{}, ErrInvalidUsername
	}
	if role == "" {
		role = "user"
	}
	if !ValidUsername(role) {
		return User{}, fmt.Errorf("invalid role %q", role)
	}
	if err := checkPassword(password); err != nil {
		return User{}, err
	}
	hash, err := h.Hash(ctx, password)
	if err != nil {
		return User{}, fmt.Errorf("hash password: %w", err)
	}
	u, err := st.CreateUser(ctx, name, role, hash, now)
	if err != nil {
		return User{}, fmt.Errorf("add user %s: %w", name, err)
	}
	return u, nil
}

// ChangePassword sets a new password and revokes every session of the user.
func ChangePassword(ctx context.Context, st Store, h *PasswordHasher, name, password string, now time.Time) error {
	if err := checkPassword(password); err != nil {
		return err
	}
	hash, err := h.Hash(ctx, password)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	if _, err := st.SetPassword(ctx, name, hash, now); err != nil {
		return fmt.Errorf("change password of %s: %w", name, err)
	}
	return nil
}

// DeleteUser deletes a user and revokes every session of the user.
func DeleteUser(ctx context.Context, st Store, name string, now time.Time) error {
	if _, err := st.DeleteUser(ctx, name, now); err != nil {
		return fmt.Errorf("delete user %s: %w", name, err)
	}
	return nil
}

// EnsureAdmin creates the user "admin" on an empty store with password or, when password is
// empty, a random one printed once to stderr. The caller decides where a chosen password
// comes from (serve reads AUTHCTL_ADMIN_PASSWORD); the domain reads no environment.
func EnsureAdmin(ctx context.Context, st Store, h *PasswordHasher, password string, stderr io.Writer, now time.Time) error {
	n, err := st.CountUsers(ctx)
	if err != nil {
		return fmt.Errorf("count users: %w", err)
	}
	if n > 0 {
		return nil
	}
	generated := password == ""
	if generated {
		if password, err = randomToken(18); err != nil {
			return err
		}
	}
	if _, err := AddUser(ctx, st, h, "admin", "admin", password, now); err != nil {
		if errors.Is(err, ErrUserExists) { // another process created it first
			return nil
		}
		return fmt.Errorf("create admin: %w", err)
	}
	if generated {
		fmt.Fprintf(stderr, "authctl: created user admin with password %s (shown once; change it with `authctl user passwd admin`)\n", password)
	} else {
		fmt.Fprintln(stderr, "authctl: created user admin with the password supplied")
	}
	return nil
}
