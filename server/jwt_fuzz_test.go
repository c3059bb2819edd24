package server

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// fuzzKeySet has a fixed Ed25519 key, so that Ed25519's deterministic signatures make the
// committed seed testdata/fuzz/FuzzVerify/valid_token a token that really verifies.
func fuzzKeySet(t testing.TB) *KeySet {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	der, err := x509.MarshalPKCS8PrivateKey(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseSigningKey("EdDSA", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), testNow)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := NewKeySet("EdDSA", []SigningKey{k})
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// TestFuzzVerifySeedIsCurrent keeps the committed valid seed in step with Sign and the test
// claims; without it the fuzzer would silently start from a token that no longer verifies.
func TestFuzzVerifySeedIsCurrent(t *testing.T) {
	t.Parallel()
	ks := fuzzKeySet(t)
	valid, err := ks.Sign(testClaims())
	if err != nil {
		t.Fatal(err)
	}
	want := "go test fuzz v1\nstring(" + strconv.Quote(valid) + ")\n"
	got, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzVerify", "valid_token"))
	if err != nil || string(got) != want {
		t.Fatalf("testdata/fuzz/FuzzVerify/valid_token is stale (%v); it should read:\n%s", err, want)
	}
	if _, err := ks.Verify(valid, "authctl", "authctl", testNow); err != nil {
		t.Fatal(err)
	}
}

// FuzzVerify: no input panics, every failure is one of the two sentinel kinds, and nothing
// but the exact token the key set signed verifies (strict base64 and Ed25519 leave no
// second spelling of it).
func FuzzVerify(f *testing.F) {
	ks := fuzzKeySet(f)
	valid, err := ks.Sign(testClaims())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := ks.Verify(tok, "authctl", "authctl", testNow)
		if err == nil {
			if tok != valid || c.SID != "sid-1" || c.Subject != "1" {
				t.Fatalf("verified a token the key set did not sign: %q", tok)
			}
			return
		}
		if c != nil {
			t.Fatal("claims returned with an error")
		}
		if errors.Is(err, ErrInvalidToken) == errors.Is(err, ErrTokenExpired) {
			t.Fatalf("error is not exactly one of invalid or expired: %v", err)
		}
		if errors.Is(err, ErrTokenExpired) && tok != valid {
			t.Fatalf("a token the key set did not sign reported as expired: %q", tok)
		}
	})
}
