package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authctl/authctl/server"
)

// loginAs logs user in over HTTP with the User-Agent ua.
func (h *harness) loginAs(t *testing.T, user, password, ua string) tokenResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	a := h.call(t, "POST", "/api/auth/login", jsonType, string(body), "User-Agent", ua)
	if a.Status != http.StatusOK {
		t.Fatalf("login %s: %d %s", user, a.Status, a.Body)
	}
	var tr tokenResponse
	if err := json.Unmarshal([]byte(a.Body), &tr); err != nil {
		t.Fatal(err)
	}
	return tr
}

// sidOf is the session id of an access token, as /api/auth/me says.
func (h *harness) sidOf(t *testing.T, access string) string {
	t.Helper()
	a := h.call(t, "GET", "/api/auth/me", "", "", bearer(access)...)
	if a.Status != http.StatusOK {
		t.Fatalf("me: %d %s", a.Status, a.Body)
	}
	return a.json(t)["sid"].(string)
}

func (h *harness) sessions(t *testing.T, access string) []sessionJSON {
	t.Helper()
	a := h.call(t, "GET", "/api/auth/sessions", "", "", bearer(access)...)
	if a.Status != http.StatusOK {
		t.Fatalf("GET /api/auth/sessions: %d %s", a.Status, a.Body)
	}
	if cc := a.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	var body mySessions
	if err := json.Unmarshal([]byte(a.Body), &body); err != nil {
		t.Fatal(err)
	}
	return body.Sessions
}

func find(list []sessionJSON, id string) (sessionJSON, bool) {
	for _, s := range list {
		if s.ID == id {
			return s, true
		}
	}
	return sessionJSON{}, false
}

func TestMySessions(t *testing.T) {
	t.Parallel()
	h := newHarness(t).serve(t)
	phone := h.loginAs(t, "alice", alicePassword, "phone/1.0")
	h.clock.Advance(time.Minute)
	laptop := h.loginAs(t, "alice", alicePassword, "laptop/2.0 (\u202eevil)") // a right-to-left override
	h.loginAs(t, "bob", bobPassword, "bob/1")
	phoneSID, laptopSID := h.sidOf(t, phone.AccessToken), h.sidOf(t, laptop.AccessToken)

	t.Run("a user sees only their own sessions, newest first, the asking one marked current", func(t *testing.T) {
		list := h.sessions(t, phone.AccessToken)
		if len(list) != 2 || list[0].ID != laptopSID || list[1].ID != phoneSID {
			t.Fatalf("sessions = %+v, want laptop then phone", list)
		}
		if !list[1].Current || list[0].Current {
			t.Errorf("current: laptop %v, phone %v; want the phone's", list[0].Current, list[1].Current)
		}
		p := list[1]
		if p.UserAgent != "phone/1.0" || p.ClientAddr != "127.0.0.1" || p.LastRefreshedAt != nil || p.RevokedAt != nil {
			t.Errorf("phone session = %+v", p)
		}
		if got := list[0].UserAgent; got != "laptop/2.0 (evil)" {
			t.Errorf("user agent stored as %q: only printable ASCII may stay", got)
		}
		if !p.ExpiresAt.Equal(p.CreatedAt.Add(h.svc.Config().RefreshTTL)) {
			t.Errorf("expires %v, created %v", p.ExpiresAt, p.CreatedAt)
		}
	})

	t.Run("a refresh shows as the session's last refresh", func(t *testing.T) {
		h.clock.Advance(time.Minute)
		body, _ := json.Marshal(map[string]string{"refresh_token": phone.RefreshToken})
		a := h.call(t, "POST", "/api/auth/refresh", jsonType, string(body))
		if a.Status != http.StatusOK {
			t.Fatalf("refresh: %d %s", a.Status, a.Body)
		}
		s, _ := find(h.sessions(t, laptop.AccessToken), phoneSID)
		if s.LastRefreshedAt == nil || !s.LastRefreshedAt.Equal(h.clock.Now()) {
			t.Fatalf("last_refreshed_at = %v, want %v", s.LastRefreshedAt, h.clock.Now())
		}
	})

	t.Run("the list needs a valid bearer token", func(t *testing.T) {
		if a := h.call(t, "GET", "/api/auth/sessions", "", ""); a.Status != http.StatusUnauthorized {
			t.Fatalf("without a token: %d %s", a.Status, a.Body)
		}
	})
}

func TestRevokeMySession(t *testing.T) {
	t.Parallel()
	h := newHarness(t).serve(t)
	one := h.loginAs(t, "alice", alicePassword, "one")
	two := h.loginAs(t, "alice", alicePassword, "two")
	bob := h.loginAs(t, "bob", bobPassword, "bob")
	twoSID, bobSID := h.sidOf(t, two.AccessToken), h.sidOf(t, bob.AccessToken)

	t.Run("another user's session is 404, like an unknown or malformed id, and stays live", func(t *testing.T) {
		for _, id := range []string{bobSID, "AAAAAAAAAAAAAAAAAAAAAA", "not%20an%20id", strings.Repeat("x", 65)} {
			a := h.call(t, "DELETE", "/api/auth/sessions/"+id, "", "", bearer(one.AccessToken)...)
			if a.Status != http.StatusNotFound || a.errorCode() != "not_found" {
				t.Errorf("DELETE %s: %d %s, want 404 not_found", id, a.Status, a.Body)
			}
		}
		if a := h.call(t, "GET", "/api/weather", "", "", bearer(bob.AccessToken)...); a.Status != http.StatusOK {
			t.Fatalf("bob's session after alice's attempt: %d", a.Status)
		}
	})

	t.Run("ending another of my sessions: 204, its tokens refused, the list says why", func(t *testing.T) {
		a := h.call(t, "DELETE", "/api/auth/sessions/"+twoSID, "", "", bearer(one.AccessToken)...)
		if a.Status != http.StatusNoContent {
			t.Fatalf("DELETE: %d %s", a.Status, a.Body)
		}
		if a := h.call(t, "GET", "/api/weather", "", "", bearer(two.AccessToken)...); a.Status != http.StatusUnauthorized {
			t.Errorf("revoked session's access token: %d, want 401", a.Status)
		}
		body, _ := json.Marshal(map[string]string{"refresh_token": two.RefreshToken})
		if a := h.call(t, "POST", "/api/auth/refresh", jsonType, string(body)); a.Status != http.StatusBadRequest || a.errorCode() != "invalid_grant" {
			t.Errorf("revoked session's refresh: %d %s", a.Status, a.Body)
		}
		s, _ := find(h.sessions(t, one.AccessToken), twoSID)
		if s.RevokedAt == nil || s.RevokeReason != server.RevokeByUser {
			t.Errorf("revoked session listed as %+v", s)
		}
		// Again: still 204, the first revocation kept.
		if a := h.call(t, "DELETE", "/api/auth/sessions/"+twoSID, "", "", bearer(one.AccessToken)...); a.Status != http.StatusNoContent {
			t.Errorf("DELETE again: %d", a.Status)
		}
	})
}

func TestAdminSessions(t *testing.T) {
	t.Parallel()
	h := newHarness(t).serve(t)
	alice := h.loginAs(t, "alice", alicePassword, "a1")
	h.clock.Advance(time.Second)
	alice2 := h.loginAs(t, "alice", alicePassword, "a2")
	bob := h.loginAs(t, "bob", bobPassword, "admin-console")

	t.Run("a user without role admin gets 403 insufficient_scope", func(t *testing.T) {
		for _, m := range []string{"GET", "DELETE"} {
			a := h.call(t, m, "/api/admin/users/alice/sessions", "", "", bearer(alice.AccessToken)...)
			if a.Status != http.StatusForbidden || a.errorCode() != "insufficient_scope" ||
				!strings.Contains(a.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
				t.Errorf("%s as alice: %d %s %q", m, a.Status, a.Body, a.Header.Get("WWW-Authenticate"))
			}
			if a := h.call(t, m, "/api/admin/users/alice/sessions", "", ""); a.Status != http.StatusUnauthorized {
				t.Errorf("%s without a token: %d", m, a.Status)
			}
		}
	})

	t.Run("an admin lists a user's sessions; an unknown user is 404", func(t *testing.T) {
		a := h.call(t, "GET", "/api/admin/users/alice/sessions", "", "", bearer(bob.AccessToken)...)
		var body userSessions
		if a.Status != http.StatusOK || json.Unmarshal([]byte(a.Body), &body) != nil {
			t.Fatalf("GET: %d %s", a.Status, a.Body)
		}
		if body.User != "alice" || len(body.Sessions) != 2 || body.Sessions[0].UserAgent != "a2" || body.Sessions[0].Current {
			t.Errorf("alice's sessions as the admin sees them: %+v", body)
		}
		for _, name := range []string{"nobody", "bad%20name"} {
			if a := h.call(t, "GET", "/api/admin/users/"+name+"/sessions", "", "", bearer(bob.AccessToken)...); a.Status != http.StatusNotFound {
				t.Errorf("GET %s: %d %s", name, a.Status, a.Body)
			}
		}
	})

	t.Run("an admin ends all of a user's sessions, audited with the admin as actor", func(t *testing.T) {
		a := h.call(t, "DELETE", "/api/admin/users/alice/sessions", "", "", bearer(bob.AccessToken)...)
		var body userRevoked
		if a.Status != http.StatusOK || json.Unmarshal([]byte(a.Body), &body) != nil || body.User != "alice" || len(body.Revoked) != 2 {
			t.Fatalf("DELETE: %d %s", a.Status, a.Body)
		}
		for _, tok := range []string{alice.AccessToken, alice2.AccessToken} {
			if a := h.call(t, "GET", "/api/weather", "", "", bearer(tok)...); a.Status != http.StatusUnauthorized {
				t.Errorf("alice's token after the admin's revocation: %d", a.Status)
			}
		}
		if a := h.call(t, "GET", "/api/weather", "", "", bearer(bob.AccessToken)...); a.Status != http.StatusOK {
			t.Errorf("the admin's own session: %d", a.Status)
		}
		evs, err := h.store.AuditSince(context.Background(), time.Time{}, 0, 10)
		if err != nil || len(evs) != 1 {
			t.Fatalf("audit: %+v %v", evs, err)
		}
		ev := evs[0]
		if ev.Action != server.AuditSessionsRevoked || ev.Subject != "alice" || ev.Actor.Name != "bob" ||
			ev.Actor.Via != server.ViaAPI || ev.Actor.Addr != "127.0.0.1" || ev.Detail != "sessions_revoked=2" {
			t.Errorf("audit event %+v", ev)
		}
		// Nothing left to end: 200 with an empty list.
		a = h.call(t, "DELETE", "/api/admin/users/alice/sessions", "", "", bearer(bob.AccessToken)...)
		if a.Status != http.StatusOK || !strings.Contains(a.Body, `"revoked":[]`) {
			t.Errorf("DELETE again: %d %s", a.Status, a.Body)
		}
	})
}
