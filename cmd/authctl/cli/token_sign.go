package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/spf13/cobra"

	"github.com/authctl/authctl/jose"
	"github.com/authctl/authctl/server"
)

// TokenSignOptions are `authctl token sign`'s. Exactly one of KeyFile and SecretFile
// holds the key; the claims are built from ClaimsFile, then Claims, then the flags for the
// registered claims, each overriding what came before.
type TokenSignOptions struct {
	OutputOptions

	KeyFile    string // --key: PEM private key (EdDSA, ES256, RS256)
	SecretFile string // --secret-file: HS256 secret, at least 32 bytes
	Alg        string // --alg: must match the key; "" → the key's own

	ClaimsFile string   // --claims-file: a JSON object; "-" reads stdin
	Claims     []string // --claim k=v, repeatable
	Subject    string   // --sub
	Issuer     string   // --iss
	Audience   []string // --aud, repeatable
	Expiry     string   // --exp: from now (5m), an RFC 3339 time or Unix seconds
	NotBefore  string   // --nbf: the same forms
	JTI        string   // --jti: "" → random
	KID        string   // --kid: "" → derived from the key as authctl serve does
	Type       string   // --typ

	expSet, nbfSet, jtiSet bool // the flag was given (an explicit --exp beats a claim)
}

func (o *TokenSignOptions) fill(f *Factory, cmd *cobra.Command, _ []string) error {
	switch {
	case o.KeyFile == "" && o.SecretFile == "":
		return usageError("give the signing key: --key PEM or --secret-file F (HS256)")
	case o.KeyFile != "" && o.SecretFile != "":
		return usageError("give one of --key or --secret-file, not both")
	}
	if o.Alg != "" && !jose.ValidAlg(o.Alg) {
		return usageError("--alg must be %s, not %q", algChoice(), o.Alg)
	}
	if o.SecretFile != "" && o.Alg != "" && o.Alg != "HS256" {
		return usageError("--secret-file signs with HS256, not %s", o.Alg)
	}
	if o.KeyFile != "" && o.Alg == "HS256" {
		return usageError("HS256 takes --secret-file, not --key")
	}
	for _, kv := range o.Claims {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return usageError("--claim %q: want NAME=VALUE", kv)
		}
	}
	if o.Type == "" {
		return usageError("--typ must not be empty")
	}
	fl := cmd.Flags()
	o.expSet, o.nbfSet, o.jtiSet = fl.Changed("exp"), fl.Changed("nbf"), fl.Changed("jti")
	now := f.Now()
	if _, err := parseWhen(o.Expiry, now); err != nil {
		return usageError("--exp: %v", err)
	}
	if o.nbfSet {
		if _, err := parseWhen(o.NotBefore, now); err != nil {
			return usageError("--nbf: %v", err)
		}
	}
	return nil
}

// NewCmdTokenSign is `authctl token sign`.
func NewCmdTokenSign(f *Factory, runF func(context.Context, *TokenSignOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sign",
		Short: "Sign a JWT with a private key or an HS256 secret",
		Long: `Sign a JWT and print it on stdout.

The key is a PEM private key (--key; Ed25519, P-256 or RSA ≥ 2048 bits: EdDSA, ES256 or
RS256) or an HS256 secret file of at least 32 bytes (--secret-file); "none" is never
used. The header carries typ (--typ) and kid: by default the key's kid as authctl serve
derives it (the RFC 7638 thumbprint of the public key), so a token signed with a server's
--signing-key file names the key the server knows.

Claims come from --claims-file (a JSON object; "-" reads stdin), then --claim NAME=VALUE
(VALUE is taken as JSON when it parses as JSON, else as a string: --claim n=5 is a
number, --claim 'n="5"' a string), then --sub, --iss, --aud (repeatable), --exp (default
5m), --nbf and --jti (default: random), each overriding what came before; iat is the
current time unless a claim sets it. --exp and --nbf take a duration from now (90s, 5m,
12h, 7d, -1h), an RFC 3339 time or Unix seconds.`,
		Example: `  authctl keys generate --alg EdDSA --out key.pem
  authctl token sign --key key.pem --sub alice --aud authctl --exp 10m
  echo '{"role":"ops","scope":["read"]}' | authctl token sign --key key.pem --claims-file -
  authctl token sign --secret-file hs256.key --claim role=admin --typ at+jwt --json`,
		Args: cobra.NoArgs,
	}
	return newCmd(f, cmd, runF, tokenSignRun, func(cmd *cobra.Command, o *TokenSignOptions) {
		fl := cmd.Flags()
		fl.StringVar(&o.KeyFile, "key", "", "PEM private key file (EdDSA, ES256, RS256)")
		fl.StringVar(&o.SecretFile, "secret-file", "", "HS256 secret file (at least 32 bytes)")
		fl.StringVar(&o.Alg, "alg", "", "require this algorithm (default: the key's)")
		fl.StringVar(&o.ClaimsFile, "claims-file", "", `JSON object of claims; "-" reads stdin`)
		fl.StringArrayVar(&o.Claims, "claim", nil, "a claim NAME=VALUE (repeatable; VALUE is JSON if it parses, else a string)")
		fl.StringVar(&o.Subject, "sub", "", "subject (sub)")
		fl.StringVar(&o.Issuer, "iss", "", "issuer (iss)")
		fl.StringArrayVar(&o.Audience, "aud", nil, "audience (aud; repeatable)")
		fl.StringVar(&o.Expiry, "exp", "5m", "expiry (exp): a duration from now, an RFC 3339 time or Unix seconds")
		fl.StringVar(&o.NotBefore, "nbf", "", "not before (nbf), in the forms --exp takes")
		fl.StringVar(&o.JTI, "jti", "", "token ID (jti; default: random)")
		fl.StringVar(&o.KID, "kid", "", "key ID in the header (default: derived from the key, as authctl serve does)")
		fl.StringVar(&o.Type, "typ", "JWT", `header typ ("at+jwt" for an access token authctl serve accepts)`)
		_ = cmd.RegisterFlagCompletionFunc("alg", cobra.FixedCompletions(jose.Algorithms, cobra.ShellCompDirectiveNoFileComp))
	})
}

func tokenSignRun(_ context.Context, opts *TokenSignOptions) error {
	now := opts.Now()
	key, alg, kid, err := opts.signingKey(now)
	if err != nil {
		return err
	}
	claims, err := opts.claims(now)
	if err != nil {
		return err
	}
	if opts.KID != "" {
		kid = opts.KID
	}
	t := jwt.NewWithClaims(jwt.GetSigningMethod(alg), claims)
	t.Header["typ"] = opts.Type
	if kid != "" {
		t.Header["kid"] = kid
	}
	tok, err := t.SignedString(key)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	if opts.JSON {
		return writeJSON(opts.IO, map[string]any{"token": tok, "header": t.Header, "claims": claims})
	}
	_, err = fmt.Fprintln(opts.IO.Out, tok)
	return err
}

// signingKey reads the key the flags name and returns it with its algorithm and the kid
// authctl serve gives it.
func (o *TokenSignOptions) signingKey(now time.Time) (key any, alg, kid string, err error) {
	if o.SecretFile != "" {
		secret, err := os.ReadFile(o.SecretFile)
		if err != nil {
			return nil, "", "", err
		}
		// The server's own parser: it refuses a short secret and names it as serve does.
		k, err := server.ParseSigningKey("HS256", secret, now)
		if err != nil {
			return nil, "", "", fmt.Errorf("%s: %w", o.SecretFile, err)
		}
		return secret, "HS256", k.KID, nil
	}
	data, err := os.ReadFile(o.KeyFile)
	if err != nil {
		return nil, "", "", err
	}
	signer, err := jose.ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, "", "", fmt.Errorf("%s: %w", o.KeyFile, err)
	}
	if alg, err = jose.AlgFor(signer); err != nil {
		return nil, "", "", fmt.Errorf("%s: %w", o.KeyFile, err)
	}
	if o.Alg != "" && o.Alg != alg {
		return nil, "", "", fmt.Errorf("%s holds a key for %s, not %s", o.KeyFile, alg, o.Alg)
	}
	if kid, err = jose.Thumbprint(signer.Public()); err != nil {
		return nil, "", "", err
	}
	return signer, alg, kid, nil
}

// claims builds the claim set: the file, then --claim, then the registered-claim flags.
func (o *TokenSignOptions) claims(now time.Time) (jwt.MapClaims, error) {
	c := jwt.MapClaims{}
	if o.ClaimsFile != "" {
		var err error
		if c, err = o.readClaimsFile(); err != nil {
			return nil, err
		}
	}
	for _, kv := range o.Claims {
		k, v, _ := strings.Cut(kv, "=")
		c[k] = claimValue(v)
	}
	if o.Subject != "" {
		c["sub"] = o.Subject
	}
	if o.Issuer != "" {
		c["iss"] = o.Issuer
	}
	switch len(o.Audience) {
	case 0:
	case 1:
		c["aud"] = o.Audience[0]
	default:
		c["aud"] = o.Audience
	}
	if _, ok := c["exp"]; o.expSet || !ok {
		exp, _ := parseWhen(o.Expiry, now) // checked in fill
		c["exp"] = exp.Unix()
	}
	if o.nbfSet {
		nbf, _ := parseWhen(o.NotBefore, now)
		c["nbf"] = nbf.Unix()
	}
	if _, ok := c["iat"]; !ok {
		c["iat"] = now.Unix()
	}
	if o.jtiSet {
		c["jti"] = o.JTI
	} else if _, ok := c["jti"]; !ok {
		// 128 bits: unique without coordination (RFC 7519 section 4.1.7 asks for a
		// negligible chance of collision).
		c["jti"] = randomText(16)
	}
	// A verifier reads these as NumericDate (RFC 7519 section 2); a string there would
	// make a token no one accepts.
	for _, k := range []string{"exp", "nbf", "iat"} {
		if v, ok := c[k]; ok && !isNumber(v) {
			return nil, fmt.Errorf("claim %s must be a number of seconds since 1970, not %s", k, jsonText(v))
		}
	}
	return c, nil
}

// readClaimsFile reads --claims-file: one JSON object. Numbers stay as written, so a
// large integer claim is not rounded through float64.
func (o *TokenSignOptions) readClaimsFile() (jwt.MapClaims, error) {
	name := o.ClaimsFile
	var data []byte
	var err error
	if name == "-" {
		name = "stdin"
		data, err = io.ReadAll(io.LimitReader(o.IO.In, maxSecret+1))
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, fmt.Errorf("read claims: %w", err)
	}
	if len(data) > maxSecret {
		return nil, fmt.Errorf("claims in %s: larger than %d bytes", name, maxSecret)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var c map[string]any
	if err := dec.Decode(&c); err != nil || c == nil {
		return nil, fmt.Errorf("claims in %s: not a JSON object", name)
	}
	if dec.More() {
		return nil, fmt.Errorf("claims in %s: more than one JSON value", name)
	}
	return c, nil
}

// claimValue is VALUE of --claim NAME=VALUE: JSON when it parses as JSON, else the text.
func claimValue(v string) any {
	dec := json.NewDecoder(strings.NewReader(v))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err == nil && !dec.More() {
		return x
	}
	return v
}

func isNumber(v any) bool {
	switch v.(type) {
	case json.Number, float64, int64, int:
		return true
	}
	return false
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// randomText is n random bytes in base64url without padding: text that survives shells,
// editors and copy and paste. crypto/rand.Read never returns an error (it stops the
// program instead), so neither does randomText.
func randomText(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// parseWhen reads a time given as a duration from now (90s, 5m, 12h, 7d, -1h), an RFC 3339
// time or Unix seconds.
func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= -36500 && n <= 36500 {
			return now.Add(time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 && n < 1<<40 {
		return time.Unix(n, 0), nil
	}
	return time.Time{}, errors.New("want a duration from now such as 5m, 12h or 7d, an RFC 3339 time or Unix seconds")
}
