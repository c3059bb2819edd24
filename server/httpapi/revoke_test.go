package httpapi

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authctl/authctl/server"
)

// A family's last access token can outlive the family: a refresh shortly before the absolute
// expiry mints a token good for a whole AccessTTL. Once the expired session has been deleted,
// revoking that token is not an outage (RFC 7009 answers 200) and must not page anyone.
func TestRevokeAccessTokenWhoseSessionWasDeleted(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *server.Config, _ *Config) { c.RefreshTTL = 10 * time.Minute }).serve(t)
	ctx := context.Background()

	first := h.login(t, "alice", alicePassword)
	h.clock.Advance(9 * time.Minute)
	a := h.call(t, "POST", "/api/auth/refresh", jsonType, `{"refresh_token":"`+first.RefreshToken+`"}`)
	if a.Status != 200 {
		t.Fatalf("refresh: %d %s", a.Status, a.Body)
	}
	var last tokenResponse
	if err := json.Unmarshal([]byte(a.Body), &last); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(2 * time.Minute) // the family is over; its last access token is not
	if n, err := h.store.DeleteExpired(ctx, h.clock.Now()); err != nil || n != 1 {
		t.Fatalf("DeleteExpired: %d, %v", n, err)
	}
	if a := h.call(t, "GET", "/api/auth/me", "", "", bearer(last.AccessToken)...); a.Status != 200 {
		t.Fatalf("the access token should still be valid: %d %s", a.Status, a.Body)
	}

	a = h.call(t, "POST", "/oauth/revoke", formType, url.Values{"token": {last.AccessToken}}.Encode())
	if a.Status != 200 {
		t.Errorf("revoke answered %d %s, want 200", a.Status, a.Body)
	}
	if logs := h.logs.String(); strings.Contains(logs, "level=ERROR") {
		t.Errorf("revoking a cleaned-up session logged an error:\n%s", logs)
	}
	if a := h.call(t, "GET", "/api/auth/me", "", "", bearer(last.AccessToken)...); a.Status != 401 {
		t.Errorf("the revoked access token is still accepted here: %d", a.Status)
	}
}
