package server

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authctl/authctl/internal/testkit"
)

// jwsEnc is the JWS encoding of token parts.
var jwsEnc = base64.RawURLEncoding

var testNow = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

var algs = []string{"EdDSA", "ES256", "RS256", "HS256"}

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

// claimsMap is testClaims as a mutable map.
func claimsMap(t *testing.T) map[string]any {
	t.Helper()
	data, _ := json.Marshal(testClaims())
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// publicPEM is what an attacker would try as an HMAC secret in an algorithm-confusion attack.
func publicPEM(t *testing.T, ks *KeySet) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(ks.verify[ks.signKID])
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// otherAsymmetric returns a method and key of an asymmetric algorithm other than alg.
func otherAsymmetric(t *testing.T, alg string) (jwt.SigningMethod, any) {
	t.Helper()
	other := map[string]string{"EdDSA": "ES256", "ES256": "RS256", "RS256": "EdDSA", "HS256": "EdDSA"}[alg]
	ks, _ := newTestKeySet(t, other)
	return ks.method, ks.signKey
}

func TestVerifyRejectsForgedTokens(t *testing.T) {
	t.Parallel()
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			ks, _ := newTestKeySet(t, alg)
			attacker, _ := newTestKeySet(t, alg)
			valid, err := ks.Sign(testClaims())
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(valid, ".")
			hdr := func() map[string]any { return map[string]any{"alg": alg, "typ": "at+jwt", "kid": ks.signKID} }
			ours := func(h map[string]any, c map[string]any) string { return testkit.Forge(t, ks.method, ks.signKey, h, c) }
			withHeader := func(f func(h map[string]any)) string { h := hdr(); f(h); return ours(h, claimsMap(t)) }
			withClaims := func(f func(c map[string]any)) string { c := claimsMap(t); f(c); return ours(hdr(), c) }
			otherMethod, otherKey := otherAsymmetric(t, alg)

			forged := []struct{ name, token string }{
				{"alg none is refused", testkit.Forge(t, nil, nil, map[string]any{"alg": "none", "typ": "at+jwt", "kid": ks.signKID}, claimsMap(t))},
				{"alg None in other case is refused", testkit.Forge(t, nil, nil, map[string]any{"alg": "None", "typ": "at+jwt", "kid": ks.signKID}, claimsMap(t))},
				{"alg none with the original signature is refused", jwsEnc.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt","kid":"`+ks.signKID+`"}`)) + "." + parts[1] + "." + parts[2]},
				{"a token signed by another key under our kid is refused", testkit.Forge(t, attacker.method, attacker.signKey, hdr(), claimsMap(t))},
				{"another algorithm under our kid is refused", testkit.Forge(t, otherMethod, otherKey, map[string]any{"alg": otherMethod.Alg(), "typ": "at+jwt", "kid": ks.signKID}, claimsMap(t))},
				{"an embedded jwk header does not supply the key", testkit.Forge(t, attacker.method, attacker.signKey,
					map[string]any{"alg": alg, "typ": "at+jwt", "kid": ks.signKID, "jwk": map[string]any{"kty": "oct", "k": "AAAA"}}, claimsMap(t))},
				{"a jku header is not fetched", testkit.Forge(t, attacker.method, attacker.signKey,
					map[string]any{"alg": alg, "typ": "at+jwt", "kid": attacker.signKID, "jku": "https://evil.example/jwks.json"}, claimsMap(t))},
				{"an unknown kid is refused", withHeader(func(h map[string]any) { h["kid"] = "unknown" })},
				{"a missing kid is refused", withHeader(func(h map[string]any) { delete(h, "kid") })},
				{"a numeric kid is refused", withHeader(func(h map[string]any) { h["kid"] = 7 })},
				{"typ JWT is refused", withHeader(func(h map[string]any) { h["typ"] = "JWT" })},
				{"a missing typ is refused", withHeader(func(h map[string]any) { delete(h, "typ") })},
				{"a crit header is refused", withHeader(func(h map[string]any) { h["crit"] = []string{"exp"} })},
				{"a wrong issuer is refused", withClaims(func(c map[string]any) { c["iss"] = "evil" })},
				{"a missing issuer is refused", withClaims(func(c map[string]any) { delete(c, "iss") })},
				{"a wrong audience is refused", withClaims(func(c map[string]any) { c["aud"] = "other" })},
				{"a missing audience is refused", withClaims(func(c map[string]any) { delete(c, "aud") })},
				{"a missing exp is refused", withClaims(func(c map[string]any) { delete(c, "exp") })},
				{"a string exp is refused", withClaims(func(c map[string]any) { c["exp"] = "never" })},
				{"an exp given as a quoted number is refused", withClaims(func(c map[string]any) { c["exp"] = fmt.Sprint(c["exp"]) })},
				{"an nbf given as a quoted number is refused", withClaims(func(c map[string]any) { c["nbf"] = fmt.Sprint(testNow.Unix()) })},
				{"an iat given as a quoted number is refused", withClaims(func(c map[string]any) { c["iat"] = fmt.Sprint(testNow.Unix()) })},
				{"nbf in the future is refused", withClaims(func(c map[string]any) { c["nbf"] = testNow.Add(time.Second).Unix() })},
				{"iat in the future is refused", withClaims(func(c map[string]any) { c["iat"] = testNow.Add(time.Second).Unix() })},
				{"a missing sid is refused", withClaims(func(c map[string]any) { delete(c, "sid") })},
				{"a missing sub is refused", withClaims(func(c map[string]any) { delete(c, "sub") })},
				{"an expired token with a wrong audience is invalid, not expired", withClaims(func(c map[string]any) {
					c["aud"], c["exp"] = "other", testNow.Add(-time.Minute).Unix()
				})},
				{"an expired token with a bad signature is invalid, not expired", func() string {
					c := claimsMap(t)
					c["exp"] = testNow.Add(-time.Minute).Unix()
					return testkit.Forge(t, attacker.method, attacker.signKey, hdr(), c)
				}()},
				{"a tampered payload is refused", parts[0] + "." + jwsEnc.EncodeToString([]byte(`{"iss":"authctl","aud":"authctl","sub":"2","sid":"x","exp":9999999999}`)) + "." + parts[2]},
				{"a tampered header is refused", jwsEnc.EncodeToString([]byte(`{"alg":"`+alg+`","typ":"at+jwt","kid":"`+ks.signKID+`","x":1}`)) + "." + parts[1] + "." + parts[2]},
				{"a stripped signature is refused", parts[0] + "." + parts[1] + "."},
				{"a truncated signature is refused", valid[:len(valid)-4]},
				{"non-canonical base64 in the signature is refused", parts[0] + "." + parts[1] + "." + flipUnusedBits(parts[2])},
				{"padded base64 is refused", valid + "=="},
				{"a line break inside the signature is refused", valid[:len(valid)-8] + "\r\n" + valid[len(valid)-8:]},
				{"a space inside the signature is refused", valid[:len(valid)-8] + " " + valid[len(valid)-8:]},
				{"two segments are refused", parts[0] + "." + parts[1]},
				{"four segments are refused", valid + ".x"},
				{"garbage is refused", "a.b.c"},
				{"the empty string is refused", ""},
				{"a token over 8 KiB is refused before parsing", strings.Repeat("x", 8<<10+1)},
			}
			if alg != "HS256" {
				pub := ks.verify[ks.signKID]
				jwk, _ := json.Marshal(ks.JWKS().Keys[0])
				confusion := map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": ks.signKID}
				forged = append(forged,
					struct{ name, token string }{"HS256 keyed with the PEM public key is refused", testkit.Forge(t, jwt.SigningMethodHS256, publicPEM(t, ks), confusion, claimsMap(t))},
					struct{ name, token string }{"HS256 keyed with the JWK is refused", testkit.Forge(t, jwt.SigningMethodHS256, jwk, confusion, claimsMap(t))},
					struct{ name, token string }{"HS256 keyed with the raw public key is refused", testkit.Forge(t, jwt.SigningMethodHS256, rawPublic(pub), confusion, claimsMap(t))},
				)
			}
			for _, tc := range forged {
				t.Run(tc.name, func(t *testing.T) {
					c, err := ks.Verify(tc.token, "authctl", "authctl", testNow)
					if !errors.Is(err, ErrInvalidToken) || c != nil {
						t.Fatalf("got %v, %v; want ErrInvalidToken", c, err)
					}
					// The reason is ours, never text from the token, which may end up in logs.
					if len(err.Error()) > 64 || strings.Contains(err.Error(), "evil") {
						t.Errorf("error %q may echo the token", err)
					}
				})
			}
		})
	}
}

func rawPublic(pub any) []byte {
	switch p := pub.(type) {
	case ed25519.PublicKey:
		return p
	case *ecdsa.PublicKey:
		e, _ := p.ECDH()
		return e.Bytes()
	case *rsa.PublicKey:
		return p.N.Bytes()
	}
	return nil
}

// flipUnusedBits changes the last base64 character without changing the decoded bytes
// under lenient decoding: its low bits are padding.
func flipUnusedBits(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[last^1])
}

func TestVerifyAcceptsWellFormedTokens(t *testing.T) {
	t.Parallel()
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			ks, _ := newTestKeySet(t, alg)
			hdr := func(typ string) map[string]any { return map[string]any{"alg": alg, "typ": typ, "kid": ks.signKID} }
			signed, err := ks.Sign(testClaims())
			if err != nil {
				t.Fatal(err)
			}
			cases := []struct {
				name  string
				token string
				at    time.Time
			}{
				{"a token from Sign verifies", signed, testNow},
				{"a token verifies one second before exp", signed, testNow.Add(5*time.Minute - time.Second)},
				{"typ in upper case verifies", testkit.Forge(t, ks.method, ks.signKey, hdr("AT+JWT"), claimsMap(t)), testNow},
				{"typ application/at+jwt verifies", testkit.Forge(t, ks.method, ks.signKey, hdr("application/at+jwt"), claimsMap(t)), testNow},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					c, err := ks.Verify(tc.token, "authctl", "authctl", tc.at)
					if err != nil {
						t.Fatal(err)
					}
					if want := testClaims(); c.SID != want.SID || c.Subject != want.Subject || c.Name != want.Name ||
						c.Role != want.Role || c.ClientID != want.ClientID || c.ID != want.ID {
						t.Errorf("claims %+v, want %+v", c, want)
					}
				})
			}
		})
	}
}

func TestVerifyReportsExpiryApart(t *testing.T) {
	t.Parallel()
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			ks, _ := newTestKeySet(t, alg)
			tok, _ := ks.Sign(testClaims())
			for _, at := range []time.Time{testNow.Add(5 * time.Minute), testNow.Add(time.Hour)} {
				if _, err := ks.Verify(tok, "authctl", "authctl", at); !errors.Is(err, ErrTokenExpired) || errors.Is(err, ErrInvalidToken) {
					t.Errorf("at exp+%v: got %v, want ErrTokenExpired alone", at.Sub(testNow.Add(5*time.Minute)), err)
				}
			}
		})
	}
}

func TestSignWritesTheProfileHeader(t *testing.T) {
	t.Parallel()
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			ks, k := newTestKeySet(t, alg)
			tok, err := ks.Sign(testClaims())
			if err != nil {
				t.Fatal(err)
			}
			raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
			if err != nil {
				t.Fatal(err)
			}
			var h map[string]any
			if err := json.Unmarshal(raw, &h); err != nil {
				t.Fatal(err)
			}
			if len(h) != 3 || h["alg"] != alg || h["typ"] != "at+jwt" || h["kid"] != k.KID {
				t.Errorf("header %s", raw)
			}
			if ks.Alg() != alg {
				t.Errorf("Alg() = %s", ks.Alg())
			}
		})
	}
}

func TestNewKeySet(t *testing.T) {
	t.Parallel()
	ed := func(active bool) SigningKey {
		k, _ := GenerateSigningKey("EdDSA", testNow)
		k.Active = active
		return k
	}
	es, _ := GenerateSigningKey("ES256", testNow)
	t.Run("no active key of the algorithm is an error", func(t *testing.T) {
		t.Parallel()
		for name, keys := range map[string][]SigningKey{
			"none":              nil,
			"only retired keys": {ed(false)},
			"only another alg":  {es},
		} {
			if _, err := NewKeySet("EdDSA", keys); err == nil {
				t.Errorf("%s: no error", name)
			}
		}
	})
	t.Run("an unsupported algorithm is an error", func(t *testing.T) {
		t.Parallel()
		if _, err := NewKeySet("none", []SigningKey{ed(true)}); err == nil {
			t.Error("alg none accepted")
		}
	})
	t.Run("keys of other algorithms are neither used nor published", func(t *testing.T) {
		t.Parallel()
		ks, err := NewKeySet("EdDSA", []SigningKey{es, ed(true)})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := ks.verify[es.KID]; ok || len(ks.JWKS().Keys) != 1 {
			t.Errorf("ES256 key kept: %+v", ks.JWKS())
		}
	})
	t.Run("a retired key still verifies while the active one signs", func(t *testing.T) {
		t.Parallel()
		old := ed(true)
		oldSet, _ := NewKeySet("EdDSA", []SigningKey{old})
		tok, _ := oldSet.Sign(testClaims())
		old.Active = false
		cur := ed(true)
		ks, err := NewKeySet("EdDSA", []SigningKey{old, cur})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ks.Verify(tok, "authctl", "authctl", testNow); err != nil {
			t.Errorf("token of the retired key: %v", err)
		}
		if ks.signKID != cur.KID || len(ks.JWKS().Keys) != 2 {
			t.Errorf("signing with %s, %d keys published", ks.signKID, len(ks.JWKS().Keys))
		}
	})
	t.Run("a corrupt stored key is an error", func(t *testing.T) {
		t.Parallel()
		bad := ed(true)
		bad.Private = []byte("not a key")
		if _, err := NewKeySet("EdDSA", []SigningKey{bad}); err == nil {
			t.Error("no error")
		}
	})
}

func TestJWKS(t *testing.T) {
	t.Parallel()
	t.Run("HS256 publishes an empty key list", func(t *testing.T) {
		t.Parallel()
		ks, _ := newTestKeySet(t, "HS256")
		b, _ := json.Marshal(ks.JWKS())
		if string(b) != `{"keys":[]}` {
			t.Errorf("JWKS %s", b)
		}
	})
	for _, tc := range []struct {
		alg, kty string
		members  []string
	}{
		{"EdDSA", "OKP", []string{"crv", "x"}},
		{"ES256", "EC", []string{"crv", "x", "y"}},
		{"RS256", "RSA", []string{"n", "e"}},
	} {
		t.Run(tc.alg+" publishes only public members with use, alg and kid", func(t *testing.T) {
			t.Parallel()
			ks, k := newTestKeySet(t, tc.alg)
			b, _ := json.Marshal(ks.JWKS())
			var set struct{ Keys []map[string]string }
			if err := json.Unmarshal(b, &set); err != nil || len(set.Keys) != 1 {
				t.Fatalf("%s: %v", b, err)
			}
			j := set.Keys[0]
			if j["kty"] != tc.kty || j["use"] != "sig" || j["alg"] != tc.alg || j["kid"] != k.KID || j["d"] != "" {
				t.Errorf("%s", b)
			}
			if len(j) != 4+len(tc.members) {
				t.Errorf("unexpected members in %s", b)
			}
			for _, m := range tc.members {
				if j[m] == "" {
					t.Errorf("%s missing from %s", m, b)
				}
			}
			ks.JWKS().Keys[0].Kid = "mutated"
			if ks.JWKS().Keys[0].Kid != k.KID {
				t.Error("a caller can change the published set")
			}
		})
	}
}

func BenchmarkSign(b *testing.B) {
	for _, alg := range algs {
		b.Run(alg, func(b *testing.B) {
			ks, _ := newTestKeySet(b, alg)
			c := testClaims()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ks.Sign(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, alg := range algs {
		b.Run(alg, func(b *testing.B) {
			ks, _ := newTestKeySet(b, alg)
			tok, _ := ks.Sign(testClaims())
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ks.Verify(tok, "authctl", "authctl", testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
