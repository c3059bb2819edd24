package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/spf13/cobra"

	"github.com/authctl/authctl/client"
	"github.com/authctl/authctl/jose"
)

// TokenArg is the optional TOKEN argument of decode and verify.
type TokenArg struct {
	Token  string // a token, or "-" to read one from stdin
	Stored bool   // no argument: the stored access token (or AUTHCTL_TOKEN)
}

func tokenArgOf(args []string) TokenArg {
	if len(args) == 0 {
		return TokenArg{Stored: true}
	}
	return TokenArg{Token: args[0]}
}

// read returns the token the argument names.
func (a TokenArg) read(ctx context.Context, o *ClientOptions) (string, error) {
	switch {
	case a.Stored:
		tok, _, err := call(o, func(c *client.Client) (string, error) {
			if o.EnvToken != "" {
				return o.EnvToken, nil
			}
			s, err := c.Session(ctx)
			return s.AccessToken, err
		})
		return tok, err
	case a.Token == "-":
		b, err := io.ReadAll(io.LimitReader(o.IO.In, maxSecret))
		if err != nil {
			return "", fmt.Errorf("read stdin: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return strings.TrimSpace(a.Token), nil
}

// NewCmdToken is the `authctl token decode|verify|print|sign` group.
func NewCmdToken(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Decode, verify, print and sign tokens",
		Example: `  authctl token decode                    # the stored access token
  authctl token verify                    # against the current server's JWKS
  curl -H "Authorization: Bearer $(authctl token print)" http://localhost:5000/api/weather
  authctl token sign --key key.pem --sub alice --exp 10m`,
	}
	cmd.AddCommand(NewCmdTokenDecode(f, nil), NewCmdTokenVerify(f, nil), NewCmdTokenPrint(f, nil), NewCmdTokenSign(f, nil))
	return cmd
}

// timeText is how authctl shows a point in time to people: RFC 3339 in the local zone,
// the zone always written (Z for UTC), so that a time copied from one machine means the
// same on another.
func timeText(t time.Time) string { return t.Local().Format(time.RFC3339) }

// TokenDecodeOptions are `authctl token decode`'s.
type TokenDecodeOptions struct {
	ClientOptions
	Arg TokenArg
}

func (o *TokenDecodeOptions) fill(f *Factory, cmd *cobra.Command, args []string) error {
	o.Arg = tokenArgOf(args)
	return o.ClientOptions.fill(f, cmd, args)
}

// NewCmdTokenDecode is `authctl token decode [TOKEN|-]`.
func NewCmdTokenDecode(f *Factory, runF func(context.Context, *TokenDecodeOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "decode [TOKEN|-]",
		Short: "Show a token's header and claims (the signature is NOT verified)",
		Long: `Show a token's header and claims, the times as dates with "expires in"/"ago". Without
an argument: the stored access token (or AUTHCTL_TOKEN); "-" reads one from stdin.
Nothing is verified: use ` + "`authctl token verify`" + ` for that.`,
		Example: `  authctl token decode
  authctl token decode eyJhbGciOi...
  authctl token print | authctl token decode - --json | jq .claims.exp`,
		Args: cobra.MaximumNArgs(1),
	}
	return newCmd(f, cmd, runF, tokenDecodeRun, nil)
}

func tokenDecodeRun(ctx context.Context, opts *TokenDecodeOptions) error {
	tok, err := opts.Arg.read(ctx, &opts.ClientOptions)
	if err != nil {
		return err
	}
	claims, header, err := decodeUnverified(tok)
	if err != nil {
		return err
	}
	ios := opts.IO
	fmt.Fprintln(ios.ErrOut, "authctl: note: the signature was not verified (use `authctl token verify`)")
	if opts.JSON {
		return writeJSON(ios, map[string]any{"header": header, "claims": claims})
	}
	sty, now := ios.Styles(), opts.Now()
	fmt.Fprintln(ios.Out, sty.Title.Render("Header"))
	printClaims(ios, sty, header, now)
	fmt.Fprintln(ios.Out, sty.Title.Render("Claims"))
	printClaims(ios, sty, claims, now)
	return nil
}

// decodeUnverified splits a JWT without checking its signature.
func decodeUnverified(token string) (jwt.MapClaims, map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, nil, errors.New("not a JWT: want three dot-separated parts")
	}
	var header map[string]any
	var claims jwt.MapClaims
	for i, dst := range []any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return nil, nil, fmt.Errorf("not a JWT: part %d is not base64url", i+1)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return nil, nil, fmt.Errorf("not a JWT: part %d is not a JSON object", i+1)
		}
	}
	return claims, header, nil
}

// printClaims lists a header or claim set sorted by name, with the times as dates.
func printClaims(ios *IOStreams, sty Styles, m map[string]any, now time.Time) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m[k]
		var s string
		if n, ok := v.(float64); ok && (k == "exp" || k == "iat" || k == "nbf") {
			t := time.Unix(int64(n), 0)
			s = timeText(t)
			switch {
			case k == "exp":
				s += " " + expiresIn(sty, t, now)
			case now.Before(t):
				s += " (in " + client.Ago(t.Sub(now)) + ")"
			default:
				s += " (" + client.Ago(now.Sub(t)) + " ago)"
			}
		} else if str, ok := v.(string); ok {
			s = str
		} else {
			b, _ := json.Marshal(v)
			s = string(b)
		}
		fmt.Fprintf(ios.Out, "  %s %s\n", sty.Key.Render(fmt.Sprintf("%-10s", k)), s)
	}
}

// TokenVerifyOptions are `authctl token verify`'s: at most one of JWKSURL, KeyFile and
// SecretFile says where the keys come from; with none, they are the JWKS of Server.
type TokenVerifyOptions struct {
	ClientOptions
	Arg                          TokenArg
	JWKSURL, KeyFile, SecretFile string
	Alg, Issuer, Audience        string
	Server                       func() (string, error) // the current server, for its JWKS
	CAFile                       string                 // --ca-file, for fetching a JWKS
}

func (o *TokenVerifyOptions) fill(f *Factory, cmd *cobra.Command, args []string) error {
	n := 0
	for _, s := range []string{o.JWKSURL, o.KeyFile, o.SecretFile} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		return usageError("give at most one of --jwks, --key or --secret-file")
	}
	if o.Alg != "" && !jose.ValidAlg(o.Alg) {
		return usageError("--alg must be %s", algChoice())
	}
	o.Arg = tokenArgOf(args)
	o.Server, o.CAFile = f.Server, globalsOf(cmd).CAFile
	return o.ClientOptions.fill(f, cmd, args)
}

// NewCmdTokenVerify is `authctl token verify [TOKEN|-]`.
func NewCmdTokenVerify(f *Factory, runF func(context.Context, *TokenVerifyOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify [TOKEN|-]",
		Short: "Verify a token's signature and times; exit 0 valid, 1 invalid",
		Long: `Verify a token's signature, exp and nbf (no leeway), and iss/aud when asked; exit 0
when valid, 1 with the reason when not. The keys come from --jwks, --key (a PEM public
key, or a private key's public half) or --secret-file (HS256); without any of them, from
the current server's /.well-known/jwks.json. The token is the stored access token when
no argument is given, or read from stdin with "-".`,
		Example: `  authctl token verify
  authctl token verify "$TOKEN" --jwks https://id.example/.well-known/jwks.json --audience authctl
  authctl token sign --key key.pem --sub bot | authctl token verify - --key key.pem`,
		Args: cobra.MaximumNArgs(1),
	}
	return newCmd(f, cmd, runF, tokenVerifyRun, func(cmd *cobra.Command, o *TokenVerifyOptions) {
		fl := cmd.Flags()
		fl.StringVar(&o.JWKSURL, "jwks", "", "JWKS URL, e.g. http://localhost:5000/.well-known/jwks.json")
		fl.StringVar(&o.KeyFile, "key", "", "PEM public key file")
		fl.StringVar(&o.SecretFile, "secret-file", "", "HS256 secret file")
		fl.StringVar(&o.Alg, "alg", "", "pin the algorithm (default: the key's)")
		fl.StringVar(&o.Issuer, "issuer", "", "require this iss")
		fl.StringVar(&o.Audience, "audience", "", "require this aud")
	})
}

func tokenVerifyRun(ctx context.Context, opts *TokenVerifyOptions) error {
	tok, err := opts.Arg.read(ctx, &opts.ClientOptions)
	if err != nil {
		return err
	}
	keys, err := opts.keys(ctx)
	if err != nil {
		return err
	}
	now := opts.Now()
	claims, err := jose.Verify(tok, keys, jose.VerifyOptions{Alg: opts.Alg, Issuer: opts.Issuer, Audience: opts.Audience, Now: now})
	if err != nil {
		if opts.JSON {
			if err := writeJSON(opts.IO, map[string]any{"valid": false, "error": err.Error()}); err != nil {
				return err
			}
		}
		return fmt.Errorf("invalid token: %w", err)
	}
	if opts.JSON {
		return writeJSON(opts.IO, map[string]any{"valid": true, "claims": claims})
	}
	msg := "valid"
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		msg += ", expires in " + client.Ago(exp.Time.Sub(now))
	}
	fmt.Fprintln(opts.IO.Out, opts.IO.Styles().Valid.Render(msg))
	return nil
}

// keys loads the verification keys from where the flags say.
func (o *TokenVerifyOptions) keys(ctx context.Context) (jose.Keys, error) {
	tr, err := client.NewTransport(o.CAFile)
	if err != nil {
		return jose.Keys{}, usageError("%v", err)
	}
	hc := &http.Client{Timeout: 15 * time.Second, Transport: tr}
	switch {
	case o.JWKSURL != "":
		return client.FetchJWKS(ctx, hc, o.JWKSURL)
	case o.KeyFile == "" && o.SecretFile == "":
		server, err := o.Server()
		if err != nil {
			return jose.Keys{}, err
		}
		keys, err := client.FetchJWKS(ctx, hc, server+"/.well-known/jwks.json")
		switch {
		case err != nil && strings.Contains(err.Error(), "no usable keys"):
			// An HS256 server publishes no keys: its secret is not public.
			return jose.Keys{}, fmt.Errorf("keys of %s: %w (an HS256 server publishes none: use --secret-file)", server, err)
		case err != nil:
			return jose.Keys{}, fmt.Errorf("keys of %s: %w", server, err)
		}
		return keys, nil
	case o.KeyFile != "":
		data, err := os.ReadFile(o.KeyFile)
		if err != nil {
			return jose.Keys{}, err
		}
		return jose.KeysFromPEM(data)
	}
	data, err := os.ReadFile(o.SecretFile)
	if err != nil {
		return jose.Keys{}, err
	}
	return jose.KeysFromSecret(data), nil
}

// TokenPrintOptions are `authctl token print`'s.
type TokenPrintOptions struct{ ClientOptions }

// NewCmdTokenPrint is `authctl token print`.
func NewCmdTokenPrint(f *Factory, runF func(context.Context, *TokenPrintOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "print",
		Short: "Print a fresh access token for scripts",
		Long: `Print the access token on stdout, refreshed first when it expires within 10s, so it
is good for at least that long.`,
		Example: `  curl -H "Authorization: Bearer $(authctl token print)" http://localhost:5000/api/weather
  authctl token print --json | jq -r .access_token`,
		Args: cobra.NoArgs,
	}
	return newCmd(f, cmd, runF, tokenPrintRun, nil)
}

func tokenPrintRun(ctx context.Context, opts *TokenPrintOptions) error {
	tok, _, err := call(&opts.ClientOptions, func(c *client.Client) (string, error) { return c.AccessToken(ctx) })
	if err != nil {
		return err
	}
	if opts.JSON {
		return writeJSON(opts.IO, map[string]string{"access_token": tok})
	}
	fmt.Fprintln(opts.IO.Out, tok)
	return nil
}
