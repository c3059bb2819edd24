package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/authctl/authctl/jose"
	"github.com/authctl/authctl/server"
)

// NewCmdKeys is the `authctl keys rotate|list|generate` group: rotate and list manage the
// signing keys kept in --db; generate makes a key file for --signing-key or token sign.
func NewCmdKeys(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage the server's signing keys, or generate a key file",
		Example: `  authctl keys list --db /var/lib/authctl/authctl.db
  authctl keys rotate --signing-alg ES256
  authctl keys generate --alg EdDSA --out signing.pem --jwk`,
	}
	addDBFlag(cmd, f)
	cmd.AddCommand(NewCmdKeysRotate(f, nil), NewCmdKeysList(f, nil), NewCmdKeysGenerate(f, nil))
	return cmd
}

// KeysRotateOptions are `authctl keys rotate`'s.
type KeysRotateOptions struct {
	StoreOptions
	Alg string
}

func (o *KeysRotateOptions) fill(f *Factory, cmd *cobra.Command, args []string) error {
	if err := checkSigningAlg(o.Alg); err != nil {
		return err
	}
	return o.StoreOptions.fill(f, cmd, args)
}

// NewCmdKeysRotate is `authctl keys rotate`.
func NewCmdKeysRotate(f *Factory, runF func(context.Context, *KeysRotateOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Add a new active signing key; old keys stay in JWKS until their tokens expire",
		Long: `Add a new active signing key to the store. Running servers publish it first and sign
with it once every verifier can know it; the previous keys stay in the JWKS until the
tokens they signed have expired.`,
		Example: `  authctl keys rotate
  authctl keys rotate --signing-alg ES256 --json --db postgres://authctl@db/authctl`,
		Args: cobra.NoArgs,
	}
	return newCmd(f, cmd, runF, keysRotateRun, func(cmd *cobra.Command, o *KeysRotateOptions) {
		cmd.Flags().StringVar(&o.Alg, "signing-alg", server.DefaultConfig().SigningAlg, "algorithm of the new key: "+algChoice())
		// Once the servers' access token lifetime, which had to be repeated here by hand.
		// Each server now keeps an old key as long as its own tokens need it; the flag is
		// still accepted so that old scripts keep working.
		cmd.Flags().Duration("access-ttl", 5*time.Minute, "ignored: each server keeps old keys as long as its own tokens need them")
		_ = cmd.Flags().MarkHidden("access-ttl")
	})
}

func keysRotateRun(ctx context.Context, opts *KeysRotateOptions) error {
	ctx = server.WithActor(ctx, cliActor()) // audited (sessions.go)
	now := opts.Now()
	return opts.withStore(ctx, func(st server.Store) error {
		k, err := server.RotateSigningKey(ctx, st, opts.Alg, now)
		if err != nil {
			return err
		}
		retire := previousRetire(ctx, st, k.KID, now)
		if opts.JSON {
			r := rotated{KID: k.KID, Alg: k.Alg, CreatedAt: k.CreatedAt.UTC()}
			if !retire.IsZero() {
				r.PreviousRetireAt = &retire
			}
			return writeJSON(opts.IO, r)
		}
		msg := fmt.Sprintf("authctl: new %s key %s is active", opts.Alg, k.KID)
		if !retire.IsZero() {
			msg += "; previous keys retire at " + timeText(retire)
		}
		fmt.Fprintln(opts.IO.ErrOut, msg)
		return nil
	})
}

// rotated is what `keys rotate --json` prints (README "JSON output").
type rotated struct {
	KID              string     `json:"kid"`
	Alg              string     `json:"alg"`
	CreatedAt        time.Time  `json:"created_at"`
	PreviousRetireAt *time.Time `json:"previous_retire_at,omitempty"`
}

// previousRetire is when the store drops the keys kid replaced (zero if it replaced none,
// or the store cannot say): the time `keys list` shows for them.
func previousRetire(ctx context.Context, st server.Store, kid string, now time.Time) time.Time {
	keys, err := st.SigningKeys(ctx, now)
	if err != nil {
		return time.Time{}
	}
	var at time.Time
	for _, k := range keys {
		if k.KID != kid && k.RetireAt.After(at) {
			at = k.RetireAt
		}
	}
	return at
}

// keyRow is one key in `keys list --json`; a stable shape scripts may rely on.
type keyRow struct {
	KID       string     `json:"kid"`
	Alg       string     `json:"alg"`
	Active    bool       `json:"active"`
	CreatedAt time.Time  `json:"created_at"`
	RetireAt  *time.Time `json:"retire_at,omitempty"`
}

// KeysListOptions are `authctl keys list`'s.
type KeysListOptions struct{ StoreOptions }

// NewCmdKeysList is `authctl keys list`.
func NewCmdKeysList(f *Factory, runF func(context.Context, *KeysListOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List signing keys (never the private parts)",
		Long: `List the signing keys in the store (--db): each key's id (the kid in a token's
header), algorithm, whether it is the active one (new tokens are signed with it once
it has been published), when it was made, and for a key ` + "`keys rotate`" + ` replaced, when
the store deletes it. Servers stop trusting a replaced key well before then, as soon as
no token it signed can still be valid. --json prints an array of
{"kid","alg","active","created_at","retire_at"}.`,
		Example: `  authctl keys list
  authctl keys list --json | jq -r '.[] | select(.active) | .kid'`,
		Args: cobra.NoArgs,
	}
	return newCmd(f, cmd, runF, keysListRun, nil)
}

func keysListRun(ctx context.Context, opts *KeysListOptions) error {
	return listFromStore(ctx, &opts.StoreOptions, func(st server.Store) ([]keyRow, error) {
		keys, err := st.SigningKeys(ctx, opts.Now())
		return rowsOf(keys, keyRowOf), err
	}, keysTable)
}

func keyRowOf(k server.SigningKey) keyRow {
	r := keyRow{KID: k.KID, Alg: k.Alg, Active: k.Active, CreatedAt: k.CreatedAt}
	if !k.RetireAt.IsZero() {
		r.RetireAt = &k.RetireAt
	}
	return r
}

// keysTable is `keys list` for people.
func keysTable(o *OutputOptions, rows []keyRow) error {
	tw := tabwriter.NewWriter(o.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tACTIVE\tCREATED\tRETIRES")
	for _, r := range rows {
		retire := "-"
		if r.RetireAt != nil {
			retire = timeText(*r.RetireAt)
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\n", r.KID, r.Alg, r.Active, timeText(r.CreatedAt), retire)
	}
	return tw.Flush()
}

// KeysGenerateOptions are `authctl keys generate`'s.
type KeysGenerateOptions struct {
	OutputOptions
	Alg   string // --alg
	Out   string // --out: the private key's file; "" → stdout
	JWK   bool   // --jwk: print the public JWK too
	Force bool   // --force: overwrite --out
}

func (o *KeysGenerateOptions) fill(f *Factory, cmd *cobra.Command, _ []string) error {
	if !jose.ValidAlg(o.Alg) {
		return usageError("--alg must be %s, not %q", algChoice(), o.Alg)
	}
	if o.JWK && o.Alg == "HS256" {
		return usageError("an HS256 secret has no public JWK: it is shared, never published")
	}
	return nil
}

// NewCmdKeysGenerate is `authctl keys generate`.
func NewCmdKeysGenerate(f *Factory, runF func(context.Context, *KeysGenerateOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Generate a key pair (PEM) for --signing-key or token sign",
		Long: `Generate a fresh signing key: an Ed25519 (EdDSA), P-256 (ES256) or RSA 2048 (RS256)
private key in PKCS#8 PEM, or for HS256 a secret of 32 random bytes (written as 43
base64url characters, all of which are the secret). It goes to --out, created with mode
0600 (an existing file is kept unless --force), or to stdout. --jwk prints the public
JWK, with the kid authctl serve will give the key, for a JWKS elsewhere. The store (--db)
is not touched: ` + "`authctl keys rotate`" + ` adds keys there.`,
		Example: `  authctl keys generate --alg EdDSA --out signing.pem --jwk
  authctl serve --signing-alg EdDSA --signing-key signing.pem
  authctl keys generate --alg HS256 --out hs256.key
  authctl keys generate --alg ES256 --json | jq -r .private_key > es256.pem`,
		Args: cobra.NoArgs,
	}
	return newCmd(f, cmd, runF, keysGenerateRun, func(cmd *cobra.Command, o *KeysGenerateOptions) {
		fl := cmd.Flags()
		fl.StringVar(&o.Alg, "alg", jose.Algorithms[0], "algorithm: "+algChoice())
		fl.StringVarP(&o.Out, "out", "o", "", "write the private key to this file (mode 0600) instead of stdout")
		fl.BoolVar(&o.JWK, "jwk", false, "also print the public JWK")
		fl.BoolVar(&o.Force, "force", false, "overwrite --out if it exists")
		_ = cmd.RegisterFlagCompletionFunc("alg", cobra.FixedCompletions(jose.Algorithms, cobra.ShellCompDirectiveNoFileComp))
	})
}

// generatedKey is what `keys generate --json` prints (README "JSON output").
type generatedKey struct {
	Alg        string    `json:"alg"`
	KID        string    `json:"kid"`
	File       string    `json:"file,omitempty"`        // with --out
	PrivateKey string    `json:"private_key,omitempty"` // without --out
	JWK        *jose.JWK `json:"jwk,omitempty"`         // not for HS256
}

func keysGenerateRun(_ context.Context, opts *KeysGenerateOptions) error {
	g, err := generateKey(opts.Alg, opts.Now())
	if err != nil {
		return err
	}
	if opts.Out != "" {
		if err := writePrivateFile(opts.Out, []byte(g.PrivateKey), opts.Force); err != nil {
			return err
		}
		g.File, g.PrivateKey = opts.Out, ""
	}
	ios := opts.IO
	if opts.JSON {
		return writeJSON(ios, g)
	}
	if opts.Out == "" {
		if _, err := io.WriteString(ios.Out, g.PrivateKey); err != nil {
			return err
		}
	}
	if opts.JWK {
		if err := writeJSON(ios, g.JWK); err != nil {
			return err
		}
	}
	if opts.Out != "" {
		fmt.Fprintf(ios.ErrOut, "authctl: wrote %s key %s to %s (mode 0600)\n", g.Alg, g.KID, opts.Out)
	}
	return nil
}

// generateKey makes a key for alg with the kid the server gives it. The asymmetric keys
// are the server's own generator's, so a generated file is exactly what serve would
// have made; the HS256 secret is text, so that it survives editors and copy and paste.
func generateKey(alg string, now time.Time) (generatedKey, error) {
	if alg == "HS256" {
		secret := randomText(32)
		k, err := server.ParseSigningKey(alg, []byte(secret), now)
		if err != nil {
			return generatedKey{}, err
		}
		return generatedKey{Alg: alg, KID: k.KID, PrivateKey: secret}, nil
	}
	k, err := server.GenerateSigningKey(alg, now)
	if err != nil {
		return generatedKey{}, err
	}
	signer, err := jose.ParsePrivateKeyPEM(k.Private)
	if err != nil {
		return generatedKey{}, err
	}
	jwk, err := jose.PublicJWK(alg, signer.Public(), k.KID)
	if err != nil {
		return generatedKey{}, err
	}
	return generatedKey{Alg: alg, KID: k.KID, PrivateKey: string(k.Private), JWK: &jwk}, nil
}

// writePrivateFile writes data to a file only its owner can read. Without force an
// existing file is an error: it may be the key a server signs with.
func writePrivateFile(path string, data []byte, force bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists: keep it, or overwrite it with --force", path)
	}
	if err != nil {
		return err
	}
	// The mode given to OpenFile does not change an existing file's.
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
