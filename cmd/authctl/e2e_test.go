package main

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// serveProc is a real `authctl serve` child process on a loopback port.
type serveProc struct {
	t   *testing.T
	URL string
	cmd *exec.Cmd
	mu  sync.Mutex
	log bytes.Buffer
}

var listening = regexp.MustCompile(`listening on (https?://[^\s"]+)`)

const adminPassword = "admin-password"

// startServe runs the binary (installed in $PATH by testscript.Main) with args.
func startServe(t *testing.T, db string, args ...string) *serveProc {
	t.Helper()
	bin, err := exec.LookPath("authctl")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db}, args...)...)
	cmd.Env = append(os.Environ(), "AUTHCTL_ADMIN_PASSWORD="+adminPassword)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProc{t: t, cmd: cmd}
	found := make(chan string, 1)
	go func() {
		defer close(found) // the process ended: stop waiting for a listening line
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	t.Cleanup(func() { p.stop(syscall.SIGKILL) })
	select {
	case u, ok := <-found:
		if !ok {
			t.Fatalf("serve exited before listening:\n%s", p.logs())
		}
		p.URL = u
	case <-time.After(15 * time.Second):
		t.Fatalf("serve did not start:\n%s", p.logs())
	}
	return p
}

func (p *serveProc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// waitLog waits up to five seconds for the log to hold substr: a request's access-log line
// is written after its answer has gone, so it may not be there yet when the client has it.
func (p *serveProc) waitLog(substr string) bool {
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(p.logs(), substr); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

func (p *serveProc) stop(sig syscall.Signal) {
	if p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Signal(sig)
	p.cmd.Wait()
}

type answer struct {
	Status int
	Header http.Header
	Body   []byte
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.Body, &m); err != nil {
		t.Fatalf("not a JSON object: %s", a.Body)
	}
	return m
}

func call(t *testing.T, method, url, contentType, body string, header ...string) answer {
	t.Helper()
	a, err := tryCall(method, url, contentType, body, header...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// tryCall is call for goroutines other than the test's own, which must not call t.Fatal.
func tryCall(method, url, contentType, body string, header ...string) (answer, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: read body: %w", method, url, err)
	}
	return answer{resp.StatusCode, resp.Header, b}, nil
}

type tokens struct {
	Access, Refresh string
}

func login(t *testing.T, base, user, pw string) tokens {
	t.Helper()
	tok, a, err := tryLogin(base, user, pw)
	if err != nil {
		t.Fatal(err)
	}
	if a.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("token response Cache-Control %q", a.Header.Get("Cache-Control"))
	}
	return tok
}

// tryLogin is login for goroutines other than the test's own; anything but a 200 token
// response is an error.
func tryLogin(base, user, pw string) (tokens, answer, error) {
	a, err := tryCall("POST", base+"/api/auth/login", "application/json", fmt.Sprintf(`{"username":%q,"password":%q}`, user, pw))
	if err != nil {
		return tokens{}, a, err
	}
	if a.Status != 200 {
		return tokens{}, a, fmt.Errorf("login: %d %s", a.Status, a.Body)
	}
	tok, err := tokensOf(a)
	return tok, a, err
}

func refresh(t *testing.T, base, rt string) (tokens, answer) {
	t.Helper()
	tok, a, err := tryRefresh(base, rt)
	if err != nil {
		t.Fatal(err)
	}
	return tok, a
}

// tryRefresh is refresh for goroutines other than the test's own. A refused refresh is not an
// error: the answer says what happened.
func tryRefresh(base, rt string) (tokens, answer, error) {
	a, err := tryCall("POST", base+"/api/auth/refresh", "application/json", fmt.Sprintf(`{"refresh_token":%q}`, rt))
	if err != nil || a.Status != 200 {
		return tokens{}, a, err
	}
	tok, err := tokensOf(a)
	return tok, a, err
}

func tokensOf(a answer) (tokens, error) {
	var m struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
	}
	if err := json.Unmarshal(a.Body, &m); err != nil || m.Access == "" || m.Refresh == "" {
		return tokens{}, fmt.Errorf("not a token response: %s", a.Body)
	}
	return tokens{m.Access, m.Refresh}, nil
}

func weather(t *testing.T, base, access string) answer {
	t.Helper()
	return call(t, "GET", base+"/api/weather", "", "", "Authorization", "Bearer "+access)
}

func tempDB(t *testing.T) string { return filepath.Join(t.TempDir(), "authctl.db") }

func TestServeRefreshRotation(t *testing.T) {
	t.Parallel()
	s := startServe(t, tempDB(t))
	// Reuse detection needs the grace window to pass; a 1 s window keeps that short.
	short := startServe(t, tempDB(t), "--reuse-grace", "1s")

	t.Run("a refresh rotates the token; the previous one within grace gets the same successor", func(t *testing.T) {
		t0 := login(t, s.URL, "admin", adminPassword)
		t1, a := refresh(t, s.URL, t0.Refresh)
		if a.Status != 200 || t1.Refresh == t0.Refresh || t1.Access == t0.Access {
			t.Fatalf("rotation: %d %s", a.Status, a.Body)
		}
		again, a := refresh(t, s.URL, t0.Refresh)
		if a.Status != 200 {
			t.Fatalf("grace replay: %d %s", a.Status, a.Body)
		}
		if again.Refresh != t1.Refresh || again.Access == t1.Access {
			t.Error("grace replay must give the same successor and a fresh access token")
		}
		if next, a := refresh(t, s.URL, t1.Refresh); a.Status != 200 || next.Refresh == t1.Refresh {
			t.Errorf("the successor does not rotate on: %d %s", a.Status, a.Body)
		}
	})
	t.Run("reuse after the grace window revokes the whole family", func(t *testing.T) {
		t0 := login(t, short.URL, "admin", adminPassword)
		t1, a := refresh(t, short.URL, t0.Refresh)
		if a.Status != 200 {
			t.Fatalf("rotation: %d %s", a.Status, a.Body)
		}
		time.Sleep(1100 * time.Millisecond)
		_, a = refresh(t, short.URL, t0.Refresh)
		if a.Status != 400 || a.json(t)["error"] != "invalid_grant" {
			t.Fatalf("reuse: %d %s", a.Status, a.Body)
		}
		if _, a := refresh(t, short.URL, t1.Refresh); a.Status != 400 || a.json(t)["error"] != "invalid_grant" {
			t.Errorf("successor still works after reuse: %d %s", a.Status, a.Body)
		}
		if a := weather(t, short.URL, t1.Access); a.Status != 401 {
			t.Errorf("access token of the revoked family: %d", a.Status)
		}
		if !regexp.MustCompile(`level=WARN .*reuse.* user=admin`).MatchString(short.logs()) {
			t.Errorf("no security event in the log:\n%s", short.logs())
		}
		if strings.Contains(short.logs(), t0.Refresh) || strings.Contains(short.logs(), t1.Refresh) || strings.Contains(short.logs(), t1.Access) {
			t.Error("a token reached the log")
		}
	})
	t.Run("16 concurrent refreshes of one token yield one successor", func(t *testing.T) {
		t0 := login(t, s.URL, "admin", adminPassword)
		var wg sync.WaitGroup
		got := make([]string, 16)
		status := make([]int, 16)
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tok, a, err := tryRefresh(s.URL, t0.Refresh)
				if err != nil {
					t.Error(err)
					return
				}
				got[i], status[i] = tok.Refresh, a.Status
			}()
		}
		wg.Wait()
		for i := range got {
			if status[i] != 200 || got[i] != got[0] {
				t.Fatalf("refresh %d: status %d, successor equal to the first: %v", i, status[i], got[i] == got[0])
			}
		}
	})
	t.Run("logout refuses the live access token at once", func(t *testing.T) {
		t0 := login(t, s.URL, "admin", adminPassword)
		if a := weather(t, s.URL, t0.Access); a.Status != 200 {
			t.Fatalf("weather: %d", a.Status)
		}
		a := call(t, "POST", s.URL+"/api/auth/logout", "application/json", fmt.Sprintf(`{"refresh_token":%q}`, t0.Refresh))
		if a.Status != 204 {
			t.Fatalf("logout: %d %s", a.Status, a.Body)
		}
		if a := weather(t, s.URL, t0.Access); a.Status != 401 {
			t.Errorf("access token after logout: %d", a.Status)
		}
	})
}

func TestServeRevocationFromAnotherProcess(t *testing.T) {
	t.Parallel()
	db := tempDB(t)
	s := startServe(t, db)
	bin, _ := exec.LookPath("authctl")
	add := exec.Command(bin, "user", "add", "erin", "--password-stdin", "--db", db)
	add.Stdin = strings.NewReader("erin-password")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}
	tok := login(t, s.URL, "erin", "erin-password")
	if out, err := exec.Command(bin, "user", "delete", "erin", "--yes", "--db", db).CombinedOutput(); err != nil {
		t.Fatalf("user delete: %v %s", err, out)
	}
	start := time.Now()
	for weather(t, s.URL, tok.Access).Status != 401 {
		if time.Since(start) > 5*time.Second {
			t.Fatal("access token still accepted 5 s after `authctl user delete`")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("refused %v after the deletion", time.Since(start).Round(time.Millisecond))
}

func TestServeRestartKeepsKeysAndSessions(t *testing.T) {
	t.Parallel()
	db := tempDB(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		// One public URL, hence one issuer, across the restart on another port.
		s := startServe(t, db, "--public-url", "https://authctl.example")
		tok := login(t, s.URL, "admin", adminPassword)
		s.stop(sig)
		s2 := startServe(t, db, "--public-url", "https://authctl.example")
		if a := weather(t, s2.URL, tok.Access); a.Status != 200 {
			t.Errorf("after %v: the old access token: %d %s", sig, a.Status, a.Body)
		}
		if _, a := refresh(t, s2.URL, tok.Refresh); a.Status != 200 {
			t.Errorf("after %v: refresh: %d %s", sig, a.Status, a.Body)
		}
		if strings.Contains(s2.logs(), "created user admin") {
			t.Error("admin created twice")
		}
		s2.stop(syscall.SIGTERM)
		if s2.cmd.ProcessState.ExitCode() != 0 {
			t.Errorf("SIGTERM exit code %d", s2.cmd.ProcessState.ExitCode())
		}
	}
}

func TestServeClassicFlow(t *testing.T) {
	t.Parallel()
	s := startServe(t, tempDB(t), "--access-ttl", "2s", "--cors-origin", "http://localhost:4200")
	a := call(t, "POST", s.URL+"/api/JWT/jwtauth", "application/json", `{"UserName":"admin","Password":"`+adminPassword+`"}`)
	if a.Status != 200 {
		t.Fatalf("jwtauth: %d %s", a.Status, a.Body)
	}
	m := a.json(t)
	access, rt := m["token"].(string), m["refreshToken"].(string)
	if a := call(t, "GET", s.URL+"/api/WeatherForecast", "", "", "Authorization", "Bearer "+access); a.Status != 200 {
		t.Fatalf("WeatherForecast: %d", a.Status)
	}
	// exp has whole seconds and no leeway: poll until the 2 s token has expired.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		a = call(t, "GET", s.URL+"/api/WeatherForecast", "", "", "Authorization", "Bearer "+access, "Origin", "http://localhost:4200")
		if a.Status != 200 || time.Now().After(deadline) {
			break
		}
	}
	if a.Status != 401 || a.Header.Get("IS-TOKEN-EXPIRED") != "true" || !strings.Contains(a.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("expired: %d %v", a.Status, a.Header)
	}
	if !strings.Contains(a.Header.Get("Access-Control-Expose-Headers"), "IS-TOKEN-EXPIRED") {
		t.Errorf("IS-TOKEN-EXPIRED not exposed to CORS: %v", a.Header)
	}
	a = call(t, "POST", s.URL+"/api/JWT/refreshjwt", "application/json", fmt.Sprintf(`{"jwtToken":%q,"refreshToken":%q}`, access, rt))
	if a.Status != 200 {
		t.Fatalf("refreshjwt: %d %s", a.Status, a.Body)
	}
	fresh := a.json(t)["token"].(string)
	if a := call(t, "GET", s.URL+"/api/WeatherForecast", "", "", "Authorization", "BEARER "+fresh); a.Status != 200 {
		t.Errorf("WeatherForecast with the refreshed token (scheme in capitals): %d", a.Status)
	}
}

func TestServeCORS(t *testing.T) {
	t.Parallel()
	s := startServe(t, tempDB(t), "--cors-origin", "http://localhost:4200")
	pre := func(origin string) answer {
		return call(t, "OPTIONS", s.URL+"/api/auth/login", "", "", "Origin", origin,
			"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type")
	}
	a := pre("http://localhost:4200")
	if a.Status != 204 || a.Header.Get("Access-Control-Allow-Origin") != "http://localhost:4200" ||
		!strings.Contains(a.Header.Get("Access-Control-Allow-Headers"), "Content-Type") {
		t.Errorf("allowed origin preflight: %d %v", a.Status, a.Header)
	}
	a = pre("http://evil.example")
	if a.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("other origin got CORS headers: %v", a.Header)
	}
}

// TestServeRejectsForgedTokens sends each forged-token kind of RFC 8725 to a protected
// endpoint. The server signs with a key this test also holds, so the forgeries differ from a
// valid token only in the one property under test.
func TestServeRejectsForgedTokens(t *testing.T) {
	t.Parallel()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	s := startServe(t, tempDB(t), "--signing-key", keyFile)
	real := login(t, s.URL, "admin", adminPassword)
	if a := weather(t, s.URL, real.Access); a.Status != 200 {
		t.Fatalf("a valid token: %d", a.Status)
	}
	var claims jwt.MapClaims
	parsed, _, _ := jwt.NewParser().ParseUnverified(real.Access, &claims)
	kid := parsed.Header["kid"].(string)

	sign := func(method jwt.SigningMethod, key any, mutate func(h map[string]any, c jwt.MapClaims)) string {
		c := jwt.MapClaims{}
		for k, v := range claims {
			c[k] = v
		}
		tok := jwt.NewWithClaims(method, c)
		tok.Header["typ"], tok.Header["kid"] = "at+jwt", kid
		mutate(tok.Header, c)
		out, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	pub := priv.Public().(ed25519.PublicKey)
	none := func() string {
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt","kid":"` + kid + `"}`))
		p := strings.Split(real.Access, ".")[1]
		return h + "." + p + "."
	}
	parts := strings.Split(real.Access, ".")
	tampered := func() string {
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		payload = bytes.Replace(payload, []byte(`"role":"admin"`), []byte(`"role":"root!"`), 1)
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
	}
	// The public key as a verifier publishes it: the classic HS256/RS256 confusion signs
	// with exactly these bytes.
	jwks := call(t, "GET", s.URL+"/.well-known/jwks.json", "", "")
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(jwks.Body, &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("jwks: %v %s", err, jwks.Body)
	}
	jwkX, _ := base64.RawURLEncoding.DecodeString(set.Keys[0]["x"].(string))
	jwkJSON, _ := json.Marshal(set.Keys[0])
	ed := jwt.SigningMethodEdDSA
	forged := map[string]string{
		"alg none":                        none(),
		"HS256 keyed with the public key": sign(jwt.SigningMethodHS256, []byte(pub), func(map[string]any, jwt.MapClaims) {}),
		"HS256 keyed with the JWKS x":     sign(jwt.SigningMethodHS256, jwkX, func(map[string]any, jwt.MapClaims) {}),
		"HS256 keyed with the JWK JSON":   sign(jwt.SigningMethodHS256, jwkJSON, func(map[string]any, jwt.MapClaims) {}),
		"no kid":                          sign(ed, priv, func(h map[string]any, _ jwt.MapClaims) { delete(h, "kid") }),
		"no typ":                          sign(ed, priv, func(h map[string]any, _ jwt.MapClaims) { delete(h, "typ") }),
		"signed by another key":           sign(ed, otherKey, func(map[string]any, jwt.MapClaims) {}),
		"unknown kid":                     sign(ed, priv, func(h map[string]any, _ jwt.MapClaims) { h["kid"] = "nope" }),
		"wrong issuer":                    sign(ed, priv, func(_ map[string]any, c jwt.MapClaims) { c["iss"] = "evil" }),
		"wrong audience":                  sign(ed, priv, func(_ map[string]any, c jwt.MapClaims) { c["aud"] = "other-api" }),
		"no exp":                          sign(ed, priv, func(_ map[string]any, c jwt.MapClaims) { delete(c, "exp") }),
		"expired":                         sign(ed, priv, func(_ map[string]any, c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }),
		"not yet valid":                   sign(ed, priv, func(_ map[string]any, c jwt.MapClaims) { c["nbf"] = time.Now().Add(time.Hour).Unix() }),
		"typ JWT instead of at+jwt":       sign(ed, priv, func(h map[string]any, _ jwt.MapClaims) { h["typ"] = "JWT" }),
		"jku pointing elsewhere":          sign(ed, otherKey, func(h map[string]any, _ jwt.MapClaims) { h["jku"] = "http://127.0.0.1:1/jwks" }),
		"tampered payload":                tampered(),
		"truncated signature":             real.Access[:len(real.Access)-10],
		"garbage":                         "not-a-jwt",
		"oversized":                       strings.Repeat("a", 9000),
	}
	for name, tok := range forged {
		t.Run(name+" is refused", func(t *testing.T) {
			a := weather(t, s.URL, tok)
			if a.Status != 401 || !strings.HasPrefix(a.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("status %d, WWW-Authenticate %q", a.Status, a.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestServeEdges(t *testing.T) {
	t.Parallel()
	s := startServe(t, tempDB(t))
	tok := login(t, s.URL, "admin", adminPassword)
	cases := []struct {
		name        string
		method, url string
		ctype, body string
		status      int
		code        string
	}{
		{"a body over 1 MiB is 413", "POST", "/api/auth/login", "application/json", `{"username":"` + strings.Repeat("a", 2<<20) + `"}`, 413, "invalid_request"},
		{"a wrong content type is 415", "POST", "/api/auth/login", "text/plain", `{}`, 415, "invalid_request"},
		{"malformed JSON is 400", "POST", "/api/auth/refresh", "application/json", `{"refresh_token":`, 400, "invalid_request"},
		{"unknown fields are 400", "POST", "/api/auth/refresh", "application/json", `{"refresh_token":"x","admin":true}`, 400, "invalid_request"},
		{"the password grant is not offered", "POST", "/oauth/token", "application/x-www-form-urlencoded", "grant_type=password&username=admin&password=x", 400, "unsupported_grant_type"},
		{"a foreign client_id is refused", "POST", "/oauth/token", "application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=x&client_id=other", 401, "invalid_client"},
		{"an unknown refresh token is invalid_grant", "POST", "/oauth/token", "application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=" + strings.Repeat("A", 43), 400, "invalid_grant"},
		{"days out of range is 400", "GET", "/api/weather?days=15", "", "", 400, "invalid_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := call(t, c.method, s.URL+c.url, c.ctype, c.body, "Authorization", "Bearer "+tok.Access)
			if a.Status != c.status || a.json(t)["error"] != c.code {
				t.Errorf("%d %s", a.Status, a.Body)
			}
		})
	}
	t.Run("the OAuth refresh grant rotates", func(t *testing.T) {
		a := call(t, "POST", s.URL+"/oauth/token", "application/x-www-form-urlencoded",
			url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.Refresh}, "client_id": {"authctl"}}.Encode())
		if a.Status != 200 || a.json(t)["token_type"] != "Bearer" || a.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%d %s", a.Status, a.Body)
		}
	})
	t.Run("revoking an unknown token answers 200", func(t *testing.T) {
		if a := call(t, "POST", s.URL+"/oauth/revoke", "application/x-www-form-urlencoded", "token=unknown-token-value"); a.Status != 200 {
			t.Errorf("%d %s", a.Status, a.Body)
		}
	})
	t.Run("JWKS and metadata are served", func(t *testing.T) {
		keys := call(t, "GET", s.URL+"/.well-known/jwks.json", "", "").json(t)["keys"].([]any)
		if len(keys) != 1 || keys[0].(map[string]any)["kty"] != "OKP" {
			t.Errorf("jwks %v", keys)
		}
		md := call(t, "GET", s.URL+"/.well-known/oauth-authorization-server", "", "").json(t)
		if md["token_endpoint"] != s.URL+"/oauth/token" || md["jwks_uri"] != s.URL+"/.well-known/jwks.json" {
			t.Errorf("metadata %v", md)
		}
	})
	t.Run("failed logins are rate-limited with Retry-After", func(t *testing.T) {
		var a answer
		for range 10 {
			a = call(t, "POST", s.URL+"/api/auth/login", "application/json", `{"username":"mallory","password":"guess"}`)
			if a.Status == 429 {
				break
			}
		}
		if a.Status != 429 || a.Header.Get("Retry-After") == "" {
			t.Errorf("%d Retry-After %q", a.Status, a.Header.Get("Retry-After"))
		}
	})
	if strings.Contains(s.logs(), "level=ERROR") || strings.Contains(s.logs(), "status=500") {
		t.Errorf("server errors logged:\n%s", s.logs())
	}
}

func TestServeTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(priv)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)

	s := startServe(t, tempDB(t), "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(s.URL, "https://") {
		t.Fatalf("listening on %s", s.URL)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Get(s.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Errorf("healthz over TLS: %d", resp.StatusCode)
	}
}
