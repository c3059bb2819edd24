package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/authctl/authctl/jose"
)

// FetchJWKS downloads a JSON Web Key Set and reads it with jose.KeysFromJWKS. It lives in
// client rather than in jose because it is HTTP, and fails like every other call of this
// package: an unreachable server wraps ErrOffline and an error answer is an *Error, so the
// CLI gives them the same exit codes and messages.
func FetchJWKS(ctx context.Context, hc *http.Client, url string) (jose.Keys, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return jose.Keys{}, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return jose.Keys{}, fmt.Errorf("fetch JWKS: %w", offline(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return jose.Keys{}, fmt.Errorf("fetch JWKS: %w", responseError(resp, time.Now()))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return jose.Keys{}, fmt.Errorf("fetch JWKS: %w", err)
	}
	keys, err := jose.KeysFromJWKS(data)
	if err != nil {
		return jose.Keys{}, fmt.Errorf("fetch JWKS: %w", err)
	}
	return keys, nil
}

// Ago rounds a duration for people: 3m12s, 5h4m, 5d. It is jose.Ago, so the times the CLI
// shows read like the ones in verification errors.
func Ago(d time.Duration) string { return jose.Ago(d) }
