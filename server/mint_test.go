package server

import "testing"

func TestSessionIDsNeverStartWithADash(t *testing.T) {
	for range 5000 {
		sid, err := newSessionID()
		if err != nil {
			t.Fatal(err)
		}
		if sid[0] == '-' || len(sid) != 22 || !PlausibleSessionID(sid) {
			t.Fatalf("session id %q", sid)
		}
	}
}
