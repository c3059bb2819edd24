package jose

import (
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authctl/authctl/internal/testkit"
)

var testNow = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func goodClaims() map[string]any {
	return map[string]any{
		"iss": "authctl", "aud": "authctl", "sub": "alice",
		"iat": testNow.Unix(), "exp": testNow.Add(5 * time.Minute).Unix(),
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	k := testKeys()
	jwk, _ := PublicJWK("EdDSA", k.ed.Public(), "k1")
	set, _ := json.Marshal(JWKSet{Keys: []JWK{jwk}})
	fromJWKS, err := KeysFromJWKS(set)
	if err != nil {
		t.Fatal(err)
	}
	fromPEM, err := KeysFromPEM(testkit.PEM(t, "PUBLIC KEY")(x509.MarshalPKIXPublicKey(k.ed.Public())))
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM, err := KeysFromPEM(testkit.PEM(t, "PUBLIC KEY")(x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)))
	if err != nil {
		t.Fatal(err)
	}
	header := map[string]any{"alg": "EdDSA", "kid": "k1", "typ": "at+jwt"}
	signed := testkit.Forge(t, jwt.SigningMethodEdDSA, k.ed, header, goodClaims())
	with := func(change func(h, c map[string]any)) string {
		h, c := map[string]any{}, goodClaims()
		for k, v := range header {
			h[k] = v
		}
		change(h, c)
		return testkit.Forge(t, jwt.SigningMethodEdDSA, k.ed, h, c)
	}
	opts := VerifyOptions{Now: testNow, Issuer: "authctl", Audience: "authctl", Type: "at+jwt"}
	parts := strings.Split(signed, ".")
	sig, _ := b64.DecodeString(parts[2])
	sig[len(sig)-1] ^= 1

	t.Run("a valid token verifies from the JWKS and from the PEM key", func(t *testing.T) {
		t.Parallel()
		for _, keys := range []Keys{fromJWKS, fromPEM} {
			c, err := Verify(signed, keys, opts)
			if err != nil || c["sub"] != "alice" {
				t.Errorf("Verify: %v, %v", c, err)
			}
		}
		if _, err := Verify("  "+signed+"\n", fromJWKS, opts); err != nil {
			t.Errorf("surrounding white space: %v", err)
		}
		if _, err := Verify(with(func(h, _ map[string]any) { h["typ"] = "application/AT+JWT" }), fromJWKS, opts); err != nil {
			t.Errorf("typ spelt with application/: %v", err)
		}
		if _, err := Verify(with(func(h, _ map[string]any) { delete(h, "typ") }), fromJWKS, VerifyOptions{Now: testNow}); err != nil {
			t.Errorf("no typ when none is asked for: %v", err)
		}
	})

	for _, tc := range []struct {
		name string
		tok  string
		keys Keys
		opts VerifyOptions
		want string
	}{
		{"an expired token says since when", signed, fromJWKS, VerifyOptions{Now: testNow.Add(8 * time.Minute)}, "expired 3m0s ago"},
		{"expiry has no leeway", signed, fromJWKS, VerifyOptions{Now: testNow.Add(5 * time.Minute)}, "expired 0s ago"},
		{"a token without exp is refused", with(func(_, c map[string]any) { delete(c, "exp") }), fromJWKS, opts, "no exp claim"},
		{"a token not valid yet is refused", with(func(_, c map[string]any) { c["nbf"] = testNow.Add(time.Minute).Unix() }), fromJWKS, opts, "not valid yet"},
		{"another audience is refused", signed, fromJWKS, VerifyOptions{Now: testNow, Audience: "other"}, "wrong audience"},
		{"another issuer is refused", signed, fromJWKS, VerifyOptions{Now: testNow, Issuer: "other"}, "wrong issuer"},
		{"another typ is refused when one is asked for", with(func(h, _ map[string]any) { h["typ"] = "JWT" }), fromJWKS, opts, "typ is not at+jwt"},
		{"a crit header is refused", with(func(h, _ map[string]any) { h["crit"] = []string{"exp"} }), fromJWKS, opts, "critical header"},
		{"an unknown kid says so", with(func(h, _ map[string]any) { h["kid"] = "k2" }), fromJWKS, opts, `cannot verify: no key with kid "k2"`},
		{"a missing kid says so", with(func(h, _ map[string]any) { delete(h, "kid") }), fromJWKS, opts, `cannot verify: no key with kid ""`},
		{"a pinned algorithm other than the key's is refused", signed, fromJWKS, VerifyOptions{Now: testNow, Alg: "ES256"}, "signature invalid"},
		{"a key for another algorithm than the pinned one says so", signed, rsaPEM, VerifyOptions{Now: testNow, Alg: "EdDSA"}, "cannot verify: key is for RS256, not EdDSA"},
		{"a token for another algorithm than the key's says so", signed, rsaPEM, opts, "cannot verify: token is signed with EdDSA, key is for RS256"},
		{"an unknown pinned algorithm is refused", signed, fromJWKS, VerifyOptions{Now: testNow, Alg: "none"}, "unsupported algorithm"},
		{"a tampered signature is refused", parts[0] + "." + parts[1] + "." + b64.EncodeToString(sig), fromJWKS, opts, "signature invalid"},
		{"a tampered payload is refused", parts[0] + "." + b64.EncodeToString([]byte(`{"sub":"bob","exp":9999999999}`)) + "." + parts[2], fromJWKS, opts, "signature invalid"},
		{"alg none is refused", b64.EncodeToString([]byte(`{"alg":"none","kid":"k1"}`)) + "." + parts[1] + ".", fromJWKS, opts, "signature invalid"},
		{"a CR/LF inside is malformed", parts[0] + "." + parts[1] + "\r\n." + parts[2], fromJWKS, opts, "malformed"},
		{"padding is malformed", signed + "=", fromJWKS, opts, "malformed"},
		{"non-canonical base64 is malformed", parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-1] + nextSpelling(parts[2]), fromJWKS, opts, "malformed"},
		{"an oversized token is malformed", signed + strings.Repeat("A", MaxTokenLen), fromJWKS, opts, "larger than"},
		{"garbage is malformed", "x.y", fromJWKS, opts, "malformed"},
		{"no key at all verifies nothing", signed, Keys{}, opts, "cannot verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Verify(tc.tok, tc.keys, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Verify: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// nextSpelling changes only the unused low bits of a base64url string's last character, so
// lenient decoding would give the same bytes.
func nextSpelling(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, s[len(s)-1])
	return string(alphabet[i^1])
}

// TestVerifyRefusesKeyConfusion: a token signed HS256 with the bytes of a public key (which
// anyone may hold) must not verify against that public key (RFC 8725 section 2.1).
func TestVerifyRefusesKeyConfusion(t *testing.T) {
	t.Parallel()
	k := testKeys()
	for _, tc := range []struct {
		name string
		pub  any
	}{
		{"Ed25519", k.ed.Public()},
		{"RSA", &k.rsa.PublicKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			der, err := x509.MarshalPKIXPublicKey(tc.pub)
			if err != nil {
				t.Fatal(err)
			}
			pemData := testkit.PEM(t, "PUBLIC KEY")(der, nil)
			keys, err := KeysFromPEM(pemData)
			if err != nil {
				t.Fatal(err)
			}
			for _, secret := range [][]byte{der, pemData, rawPublic(tc.pub)} {
				tok := testkit.Forge(t, jwt.SigningMethodHS256, secret, map[string]any{"alg": "HS256"}, goodClaims())
				if _, err := Verify(tok, keys, VerifyOptions{Now: testNow}); err == nil {
					t.Error("an HS256 token signed with the public key verified")
				}
			}
		})
	}
}

func rawPublic(pub any) []byte {
	switch p := pub.(type) {
	case ed25519.PublicKey:
		return p
	case *rsa.PublicKey:
		return p.N.Bytes()
	}
	return nil
}

func TestVerifyWithSecret(t *testing.T) {
	t.Parallel()
	secret := []byte("0123456789abcdef0123456789abcdef")
	tok := testkit.Forge(t, jwt.SigningMethodHS256, secret, map[string]any{"alg": "HS256"}, goodClaims())
	keys := KeysFromSecret(secret)
	secret[0] = 'X' // the keys hold their own copy
	if _, err := Verify(tok, keys, VerifyOptions{Now: testNow, Alg: "HS256"}); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if _, err := Verify(tok, KeysFromSecret(secret), VerifyOptions{Now: testNow}); err == nil || !strings.Contains(err.Error(), "signature invalid") {
		t.Errorf("another secret: %v", err)
	}
	edTok := testkit.Forge(t, jwt.SigningMethodEdDSA, testKeys().ed, map[string]any{"alg": "EdDSA"}, goodClaims())
	if _, err := Verify(edTok, keys, VerifyOptions{Now: testNow}); err == nil || !strings.Contains(err.Error(), "key is for HS256") {
		t.Errorf("an EdDSA token against a secret: %v", err)
	}
}

func TestAgo(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0:                              "0s",
		1500 * time.Millisecond:        "2s",
		-42 * time.Second:              "42s",
		3*time.Minute + 12*time.Second: "3m12s",
		5*time.Hour + 3*time.Minute + 40*time.Second: "5h4m",
		2 * time.Hour:              "2h0m", // as the CLI has always shown it
		47 * time.Hour:             "47h0m",
		5*24*time.Hour + time.Hour: "5d",
	} {
		if got := Ago(d); got != want {
			t.Errorf("Ago(%s) = %s, want %s", d, got, want)
		}
	}
}

func TestCheckNumericDates(t *testing.T) {
	enc := func(payload string) string {
		return "eyJhbGciOiJIUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".c2ln"
	}
	for _, c := range []struct {
		name, payload string
		ok            bool
	}{
		{"numbers are accepted", `{"exp":1700000000,"nbf":1699999000,"iat":1699999000.5}`, true},
		{"absent dates are left to the verifier", `{"sub":"1"}`, true},
		{"a quoted exp is refused", `{"exp":"1700000000"}`, false},
		{"a quoted nbf is refused", `{"exp":1700000000,"nbf":"1699999000"}`, false},
		{"a quoted iat is refused", `{"exp":1700000000,"iat":"1699999000"}`, false},
		{"an exp that is an object is refused", `{"exp":{"n":1}}`, false},
		{"a payload that is not an object is refused", `[1,2]`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := CheckNumericDates(enc(c.payload)); (err == nil) != c.ok {
				t.Fatalf("CheckNumericDates(%s) = %v", c.payload, err)
			}
		})
	}
	if CheckNumericDates("a.b") == nil {
		t.Fatal("two segments accepted")
	}
}
