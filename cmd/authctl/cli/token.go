package cli

import (
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
)

// NewCmdToken is `authctl token decode|verify|print`.
func NewCmdToken(f *Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Decode, verify and print access tokens"}
	cmd.AddCommand(newCmdTokenDecode(f), newCmdTokenVerify(f), newCmdTokenPrint(f))
	return cmd
}

// tokenArg reads TOKEN, "-" (stdin) or, with no argument, the stored access token.
func tokenArg(f *Factory, cmd *cobra.Command, args []string) (string, error) {
	if len(args) == 1 && args[0] != "-" {
		return strings.TrimSpace(args[0]), nil
	}
	if len(args) == 1 {
		b, err := io.ReadAll(io.LimitReader(f.IO.In, 64<<10))
		if err != nil {
			return "", fmt.Errorf("read stdin: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	c, _, err := f.client()
	if err != nil {
		return "", err
	}
	if tok := f.Getenv("AUTHCTL_TOKEN"); tok != "" {
		return tok, nil
	}
	s, err := c.Session(cmd.Context())
	if err != nil {
		return "", clientErr(c, err)
	}
	return s.AccessToken, nil
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

func newCmdTokenDecode(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "decode [TOKEN|-]",
		Short: "Show a token's header and claims (the signature is NOT verified)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tok, err := tokenArg(f, cmd, args)
			if err != nil {
				return err
			}
			claims, header, err := decodeUnverified(tok)
			if err != nil {
				return err
			}
			fmt.Fprintln(f.IO.ErrOut, "authctl: note: the signature was not verified (use `authctl token verify`)")
			if f.JSON {
				return writeJSON(f, map[string]any{"header": header, "claims": claims})
			}
			sty := f.Styles()
			now := f.Now()
			fmt.Fprintln(f.IO.Out, sty.Title.Render("Header"))
			printMap(f, sty, header, now)
			fmt.Fprintln(f.IO.Out, sty.Title.Render("Claims"))
			printMap(f, sty, claims, now)
			return nil
		},
	}
}

func printMap(f *Factory, sty Styles, m map[string]any, now time.Time) {
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
			s = t.Local().Format(time.RFC3339)
			switch {
			case k == "exp" && now.Before(t):
				s += " " + sty.Valid.Render("(expires in "+client.Ago(t.Sub(now))+")")
			case k == "exp":
				s += " " + sty.Expired.Render("(expired "+client.Ago(now.Sub(t))+" ago)")
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
		fmt.Fprintf(f.IO.Out, "  %s %s\n", sty.Key.Render(fmt.Sprintf("%-10s", k)), s)
	}
}

func newCmdTokenVerify(f *Factory) *cobra.Command {
	var jwksURL, keyFile, secretFile, alg, issuer, audience string
	cmd := &cobra.Command{
		Use:   "verify [TOKEN|-] --jwks URL | --key PEM | --secret-file F",
		Short: "Verify a token's signature and times; exit 0 valid, 1 invalid",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n := 0
			for _, s := range []string{jwksURL, keyFile, secretFile} {
				if s != "" {
					n++
				}
			}
			if n != 1 {
				return usageError("give exactly one of --jwks, --key or --secret-file")
			}
			if alg != "" && alg != "EdDSA" && alg != "ES256" && alg != "RS256" && alg != "HS256" {
				return usageError("--alg must be EdDSA, ES256, RS256 or HS256")
			}
			tok, err := tokenArg(f, cmd, args)
			if err != nil {
				return err
			}
			var keys client.VerifyKeys
			switch {
			case jwksURL != "":
				keys, err = client.FetchJWKS(cmd.Context(), &http.Client{Timeout: 15 * time.Second}, jwksURL)
			case keyFile != "":
				var data []byte
				if data, err = os.ReadFile(keyFile); err == nil {
					keys, err = client.KeysFromPEM(data)
				}
			default:
				var data []byte
				if data, err = os.ReadFile(secretFile); err == nil {
					keys = client.KeysFromSecret(data)
				}
			}
			if err != nil {
				return err
			}
			claims, err := client.Verify(tok, keys, client.VerifyOptions{Alg: alg, Issuer: issuer, Audience: audience, Now: f.Now()})
			if err != nil {
				return fmt.Errorf("invalid token: %w", err)
			}
			if f.JSON {
				return writeJSON(f, map[string]any{"valid": true, "claims": claims})
			}
			msg := "valid"
			if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
				msg += ", expires in " + client.Ago(exp.Time.Sub(f.Now()))
			}
			fmt.Fprintln(f.IO.Out, f.Styles().Valid.Render(msg))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&jwksURL, "jwks", "", "JWKS URL, e.g. http://localhost:5000/.well-known/jwks.json")
	fl.StringVar(&keyFile, "key", "", "PEM public key file")
	fl.StringVar(&secretFile, "secret-file", "", "HS256 secret file")
	fl.StringVar(&alg, "alg", "", "pin the algorithm (default: the key's)")
	fl.StringVar(&issuer, "issuer", "", "require this iss")
	fl.StringVar(&audience, "audience", "", "require this aud")
	return cmd
}

func newCmdTokenPrint(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "print",
		Short: "Print a fresh access token for scripts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := f.client()
			if err != nil {
				return err
			}
			tok, err := c.AccessToken(cmd.Context())
			if err != nil {
				return clientErr(c, err)
			}
			fmt.Fprintln(f.IO.Out, tok)
			return nil
		},
	}
}
