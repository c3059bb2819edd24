package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/authctl/authctl/client"
)

// APIOptions are `authctl api`'s: one authenticated request to the logged-in server, in
// the manner of `gh api`.
type APIOptions struct {
	ClientOptions
	Path    string   // the argument: a path on the server, or a URL of the server's origin
	Method  string   // -X; "" picks GET, or POST when there is a body
	Headers []string // -H 'Key: Value', repeatable
	Data    string   // -d: @file, - (stdin) or the body itself
	Fields  []string // -f key=value, repeatable: a JSON object of strings
	Include bool     // -i: the status line and headers before the body
	DataSet bool     // -d was given (an empty body is a body)
}

func (o *APIOptions) fill(f *Factory, cmd *cobra.Command, args []string) error {
	o.Path = args[0]
	o.DataSet = cmd.Flags().Changed("data")
	if o.DataSet && len(o.Fields) > 0 {
		return usageError("-d and -f both give the body: use one")
	}
	if o.Method != "" {
		o.Method = strings.ToUpper(o.Method)
		if strings.IndexFunc(o.Method, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0 {
			return usageError("-X %q is not an HTTP method", o.Method)
		}
	}
	for _, h := range o.Headers {
		k, _, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(k) == "" || strings.ContainsAny(strings.TrimSpace(k), " \t") {
			return usageError("-H %q: want 'Key: Value'", h)
		}
		if strings.EqualFold(strings.TrimSpace(k), "Authorization") {
			return usageError("-H Authorization: authctl sends the session's token itself; use curl to send another")
		}
	}
	for _, kv := range o.Fields {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return usageError("-f %q: want key=value", kv)
		}
	}
	return o.ClientOptions.fill(f, cmd, args)
}

// NewCmdAPI is `authctl api PATH`.
func NewCmdAPI(f *Factory, runF func(context.Context, *APIOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "api PATH",
		Short: "Make an authenticated request to the logged-in server",
		Long: `Make an HTTP request to the logged-in server with the session's access token, and
print the response body on stdout, as it came (indented when it is JSON and stdout
is a terminal).

The request goes through the same transport as every other command: the token is
refreshed before it expires, and after a 401 refreshed once and the request
replayed once. The token is sent only to the server's own origin: PATH is a path
on it, or a URL of that origin.

The body comes from -d (@file, - for stdin, or the text itself) or from -f
key=value fields, sent as a JSON object of strings (as a query string with -X GET).
With a body the method defaults to POST, else GET.

A 4xx or 5xx answer exits 1 with the body on stdout and one error line on stderr.`,
		Example: `  authctl api /api/weather?days=2
  authctl api /api/auth/me | jq -r .name
  authctl api -X POST /api/auth/logout -f refresh_token="$TOKEN"
  authctl api -X POST /oauth/revoke -H 'Content-Type: application/x-www-form-urlencoded' -d "token=$TOKEN"
  authctl api -i /.well-known/jwks.json`,
		Args: cobra.ExactArgs(1),
	}
	return newCmd(f, cmd, runF, apiRun, func(cmd *cobra.Command, o *APIOptions) {
		fl := cmd.Flags()
		fl.StringVarP(&o.Method, "method", "X", "", "HTTP method (default GET, or POST with a body)")
		fl.StringArrayVarP(&o.Headers, "header", "H", nil, "request header 'Key: Value' (repeatable)")
		fl.StringVarP(&o.Data, "data", "d", "", "request body: @file, - for stdin, or the text itself")
		fl.StringArrayVarP(&o.Fields, "field", "f", nil, "JSON body field key=value (repeatable; a query parameter with -X GET)")
		fl.BoolVarP(&o.Include, "include", "i", false, "print the status line and response headers first")
	})
}

// maxAPIError bounds what is kept of an error answer to word the error line; all of it is
// printed.
const maxAPIError = 64 << 10

func apiRun(ctx context.Context, opts *APIOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	target, err := c.URL(opts.Path)
	var other *client.OriginError
	if errors.As(err, &other) {
		return usageError("%v: authctl api sends the session's token only to it", err)
	} else if err != nil {
		return usageError("PATH %q: %v", opts.Path, err)
	}
	body, contentType, err := opts.body(target)
	if err != nil {
		return err
	}
	method := opts.Method
	if method == "" {
		method = http.MethodGet
		if body != nil {
			method = http.MethodPost
		}
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body) // replayable: http.NewRequest sets GetBody for it
	}
	req, err := http.NewRequestWithContext(ctx, method, target.String(), rd)
	if err != nil {
		return usageError("%v", err)
	}
	for _, h := range opts.Headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	// Defaults only where -H gave nothing.
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	if contentType != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", contentType)
	}

	resp, err := c.Do(req)
	if err != nil {
		return opts.clientErr(c, err)
	}
	defer resp.Body.Close()
	out := opts.IO.Out
	if opts.Include {
		writeHead(out, resp)
	}
	var kept bytes.Buffer
	var src io.Reader = resp.Body
	if resp.StatusCode >= 400 {
		src = io.TeeReader(resp.Body, &limitedBuffer{buf: &kept, max: maxAPIError})
	}
	if err := writeBody(out, src, resp.Header.Get("Content-Type"), opts.IO.IsStdoutTTY()); err != nil {
		return fmt.Errorf("read the answer of %s %s: %w", method, target.Path, err)
	}
	if resp.StatusCode >= 400 {
		return fmt.Errorf("%s %s: %w", method, target.Path, client.ErrorFrom(resp.StatusCode, resp.Header, kept.Bytes(), opts.Now()))
	}
	return nil
}

// body is the request body and its default content type. Fields go into the query of a
// request sent with -X GET or HEAD (which has no body), as `gh api` does.
func (o *APIOptions) body(target *url.URL) ([]byte, string, error) {
	switch {
	case len(o.Fields) > 0 && (o.Method == http.MethodGet || o.Method == http.MethodHead):
		q := target.Query()
		for _, kv := range o.Fields {
			k, v, _ := strings.Cut(kv, "=")
			q.Add(k, v)
		}
		target.RawQuery = q.Encode()
		return nil, "", nil
	case len(o.Fields) > 0:
		m := make(map[string]string, len(o.Fields))
		for _, kv := range o.Fields {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
		b, err := json.Marshal(m)
		return b, "application/json", err
	case !o.DataSet:
		return nil, "", nil
	}
	var b []byte
	var err error
	switch {
	case o.Data == "-" || o.Data == "@-":
		b, err = io.ReadAll(o.IO.In)
	case strings.HasPrefix(o.Data, "@"):
		b, err = os.ReadFile(o.Data[1:])
		if err != nil {
			return nil, "", usageError("-d %s: %v", o.Data, errors.Unwrap(err))
		}
	default:
		b = []byte(o.Data)
	}
	if err != nil {
		return nil, "", fmt.Errorf("read the body: %w", err)
	}
	return b, "application/json", nil
}

// writeHead prints the status line and the headers, sorted, then a blank line.
func writeHead(w io.Writer, resp *http.Response) {
	fmt.Fprintf(w, "%s %s\n", resp.Proto, resp.Status)
	keys := make([]string, 0, len(resp.Header))
	for k := range resp.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range resp.Header[k] {
			fmt.Fprintf(w, "%s: %s\n", k, v)
		}
	}
	fmt.Fprintln(w)
}

// writeBody copies the body as it came; on a terminal JSON is indented and ends with a
// newline, so that it reads well and the prompt does not stick to it.
func writeBody(w io.Writer, body io.Reader, contentType string, tty bool) error {
	mt, _, _ := mime.ParseMediaType(contentType)
	if !tty || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		_, err := io.Copy(w, body)
		return err
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if json.Indent(&out, data, "", "  ") != nil {
		out.Reset()
		out.Write(data)
	}
	if out.Len() > 0 && !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
		out.WriteByte('\n')
	}
	_, err = w.Write(out.Bytes())
	return err
}

// limitedBuffer keeps the first max bytes written to it and drops the rest.
type limitedBuffer struct {
	buf *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.buf.Len(); room > 0 {
		l.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
