package server

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var testNow = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func testClaims() AccessClaims {
	return AccessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "authctl", Subject: "1", Audience: jwt.ClaimStrings{"authctl"},
			ExpiresAt: jwt.NewNumericDate(testNow.Add(5 * time.Minute)),
			IssuedAt:  jwt.NewNumericDate(testNow), NotBefore: jwt.NewNumericDate(testNow), ID: "jti",
		},
		ClientID: "authctl", Name: "alice", Role: "user", SID: "sid-1",
	}
}

func newTestKeySet(t testing.TB, alg string) (*KeySet, SigningKey) {
	t.Helper()
	k, err := GenerateSigningKey(alg, testNow)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := NewKeySet(alg, []SigningKey{k})
	if err != nil {
		t.Fatal(err)
	}
	return ks, k
}

// resign re-signs a token's header and claims after mutate, with the key set's own key.
func resign(t *testing.T, ks *KeySet, mutate func(h map[string]any, c jwt.MapClaims)) string {
	t.Helper()
	tok, _ := ks.Sign(testClaims())
	var c jwt.MapClaims
	parsed, _, _ := jwt.NewParser().ParseUnverified(tok, &c)
	out := jwt.NewWithClaims(ks.method, c)
	for k, v := range parsed.Header {
		out.Header[k] = v
	}
	mutate(out.Header, c)
	s, err := out.SignedString(ks.signKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyRejectsForgedTokens(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"EdDSA", "ES256", "RS256", "HS256"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			ks, _ := newTestKeySet(t, alg)
			other, _ := newTestKeySet(t, alg)
			valid, err := ks.Sign(testClaims())
			if err != nil {
				t.Fatal(err)
			}
			if c, err := ks.Verify(valid, "authctl", "authctl", testNow); err != nil || c.SID != "sid-1" || c.Name != "alice" {
				t.Fatalf("valid token: %v", err)
			}
			parts := strings.Split(valid, ".")
			header := func(h string) string { return base64.RawURLEncoding.EncodeToString([]byte(h)) }
			forged := map[string]string{
				"alg none":              header(`{"alg":"none","typ":"at+jwt","kid":"`+ks.signKID+`"}`) + "." + parts[1] + ".",
				"another key, same kid": resignWith(t, other, ks.signKID),
				"unknown kid":           resign(t, ks, func(h map[string]any, _ jwt.MapClaims) { h["kid"] = "unknown" }),
				"no kid":                resign(t, ks, func(h map[string]any, _ jwt.MapClaims) { delete(h, "kid") }),
				"typ JWT":               resign(t, ks, func(h map[string]any, _ jwt.MapClaims) { h["typ"] = "JWT" }),
				"no typ":                resign(t, ks, func(h map[string]any, _ jwt.MapClaims) { delete(h, "typ") }),
				"wrong iss":             resign(t, ks, func(_ map[string]any, c jwt.MapClaims) { c["iss"] = "evil" }),
				"wrong aud":             resign(t, ks, func(_ map[string]any, c jwt.MapClaims) { c["aud"] = "other" }),
				"no exp":                resign(t, ks, func(_ map[string]any, c jwt.MapClaims) { delete(c, "exp") }),
				"nbf in the future":     resign(t, ks, func(_ map[string]any, c jwt.MapClaims) { c["nbf"] = testNow.Add(time.Minute).Unix() }),
				"iat in the future":     resign(t, ks, func(_ map[string]any, c jwt.MapClaims) { c["iat"] = testNow.Add(time.Minute).Unix() }),
				"no sid":                resign(t, ks, func(_ map[string]any, c jwt.MapClaims) { delete(c, "sid") }),
				"no sub":                resign(t, ks, func(_ map[string]any, c jwt.MapClaims) { delete(c, "sub") }),
				"tampered payload":      parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"2","sid":"x"}`)) + "." + parts[2],
				"truncated":             valid[:len(valid)-4],
				"garbage":               "a.b.c",
				"oversized":             strings.Repeat("x", 9<<10),
			}
			if alg != "HS256" {
				// Algorithm confusion: HS256 keyed with the public key's bytes.
				pub, _ := json.Marshal(ks.JWKS().Keys[0])
				forged["HS256 with the public key"] = resignHMAC(t, ks.signKID, pub)
			}
			for name, tok := range forged {
				if _, err := ks.Verify(tok, "authctl", "authctl", testNow); !errors.Is(err, ErrInvalidToken) {
					t.Errorf("%s: got %v, want ErrInvalidToken", name, err)
				}
			}
			if _, err := ks.Verify(valid, "authctl", "authctl", testNow.Add(5*time.Minute)); !errors.Is(err, ErrTokenExpired) {
				t.Errorf("expired: %v", err)
			}
		})
	}
}

func resignWith(t *testing.T, other *KeySet, kid string) string {
	t.Helper()
	tok := jwt.NewWithClaims(other.method, testClaims())
	tok.Header["typ"], tok.Header["kid"] = "at+jwt", kid
	s, err := tok.SignedString(other.signKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func resignHMAC(t *testing.T, kid string, secret []byte) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, testClaims())
	tok.Header["typ"], tok.Header["kid"] = "at+jwt", kid
	s, _ := tok.SignedString(secret)
	return s
}

func TestKeys(t *testing.T) {
	t.Parallel()
	t.Run("generated keys round-trip through ParseSigningKey with the same kid", func(t *testing.T) {
		for _, alg := range []string{"EdDSA", "ES256", "RS256", "HS256"} {
			k, err := GenerateSigningKey(alg, testNow)
			if err != nil {
				t.Fatal(err)
			}
			p, err := ParseSigningKey(alg, k.Private, testNow)
			if err != nil || p.KID != k.KID {
				t.Errorf("%s: %v, kid %s vs %s", alg, err, p.KID, k.KID)
			}
		}
	})
	t.Run("a key of the wrong type or a short secret is refused", func(t *testing.T) {
		ed, _ := GenerateSigningKey("EdDSA", testNow)
		if _, err := ParseSigningKey("ES256", ed.Private, testNow); err == nil {
			t.Error("EdDSA key accepted for ES256")
		}
		if _, err := ParseSigningKey("HS256", []byte("short"), testNow); err == nil {
			t.Error("short secret accepted")
		}
		if _, err := ParseSigningKey("EdDSA", []byte("not pem"), testNow); err == nil {
			t.Error("garbage accepted")
		}
	})
	t.Run("the Ed25519 kid is the RFC 7638 thumbprint", func(t *testing.T) {
		// RFC 8037 appendix A.3.
		x, _ := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
		if got := thumbprint(publicJWK("EdDSA", ed25519.PublicKey(x), "")); got != "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k" {
			t.Errorf("thumbprint %s", got)
		}
	})
	t.Run("HS256 publishes no keys", func(t *testing.T) {
		ks, _ := newTestKeySet(t, "HS256")
		b, _ := json.Marshal(ks.JWKS())
		if string(b) != `{"keys":[]}` {
			t.Errorf("JWKS %s", b)
		}
	})
	t.Run("a retired-but-listed key still verifies while the active one signs", func(t *testing.T) {
		old, _ := GenerateSigningKey("EdDSA", testNow)
		oldSet, _ := NewKeySet("EdDSA", []SigningKey{old})
		tok, _ := oldSet.Sign(testClaims())
		old.Active = false
		cur, _ := GenerateSigningKey("EdDSA", testNow)
		ks, err := NewKeySet("EdDSA", []SigningKey{cur, old})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ks.Verify(tok, "authctl", "authctl", testNow); err != nil {
			t.Errorf("old token: %v", err)
		}
		if len(ks.JWKS().Keys) != 2 || ks.signKID != cur.KID {
			t.Errorf("jwks %d keys, signing with %s", len(ks.JWKS().Keys), ks.signKID)
		}
	})
}

func BenchmarkSign(b *testing.B) {
	for _, alg := range []string{"EdDSA", "ES256", "RS256", "HS256"} {
		b.Run(alg, func(b *testing.B) {
			ks, _ := newTestKeySet(b, alg)
			c := testClaims()
			for b.Loop() {
				ks.Sign(c)
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, alg := range []string{"EdDSA", "ES256", "RS256", "HS256"} {
		b.Run(alg, func(b *testing.B) {
			ks, _ := newTestKeySet(b, alg)
			tok, _ := ks.Sign(testClaims())
			for b.Loop() {
				if _, err := ks.Verify(tok, "authctl", "authctl", testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
