package server

import (
	"errors"
	"testing"
)

// FuzzVerify: no input panics, and nothing but a token this key set signed verifies.
func FuzzVerify(f *testing.F) {
	ks, k := newTestKeySet(f, "EdDSA")
	valid, _ := ks.Sign(testClaims())
	f.Add(valid)
	f.Add("eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiIxIn0.")
	f.Add("a.b.c")
	f.Add("")
	f.Add(k.KID)
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := ks.Verify(tok, "authctl", "authctl", testNow)
		if err == nil {
			if tok != valid || c.SID != "sid-1" {
				t.Fatalf("verified a token the key set did not sign: %q", tok)
			}
			return
		}
		if !errors.Is(err, ErrInvalidToken) && !errors.Is(err, ErrTokenExpired) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}

// FuzzParsePHC: stored hashes are parsed without panics or unbounded parameters.
func FuzzParsePHC(f *testing.F) {
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g")
	f.Add("$argon2id$v=19$m=4294967295,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("$argon2i$v=19$m=1,t=1,p=1$$")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := parsePHC(s)
		if err != nil {
			return
		}
		if p.Memory > maxMemory || p.Time > maxTime || p.Threads > maxThreads || len(salt) < 8 || len(key) < 16 {
			t.Fatalf("accepted out-of-bounds hash %q: %+v", s, p)
		}
	})
}
