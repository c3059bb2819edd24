package cli

import (
	"net/url"
	"testing"

	"github.com/spf13/cobra"
)

func TestAPIBody(t *testing.T) {
	t.Parallel()
	target, _ := url.Parse("http://127.0.0.1:5000/api/weather")
	get := &APIOptions{Method: "GET", Fields: []string{"days=2"}}
	if b, ct, err := get.body(target); b != nil || ct != "" || err != nil || target.RawQuery != "days=2" {
		t.Errorf("-X GET -f: body %q, type %q, query %q, %v", b, ct, target.RawQuery, err)
	}
	post := &APIOptions{Fields: []string{"refresh_token=abc", "x=a=b"}}
	if b, ct, err := post.body(target); string(b) != `{"refresh_token":"abc","x":"a=b"}` || ct != "application/json" || err != nil {
		t.Errorf("-f: body %s, type %q, %v", b, ct, err)
	}
	ios, stdin, _, _ := Test()
	stdin.WriteString("raw body")
	data := &APIOptions{ClientOptions: ClientOptions{OutputOptions: OutputOptions{IO: ios}}, Data: "-", DataSet: true}
	if b, _, err := data.body(target); string(b) != "raw body" || err != nil {
		t.Errorf("-d -: %q, %v", b, err)
	}
	missing := &APIOptions{Data: "@/nonexistent/body.json", DataSet: true}
	if _, _, err := missing.body(target); ExitCode(err) != ExitUsage {
		t.Errorf("-d @missing: %v", err)
	}
}

func TestAPIRefusesBadFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"api", "/x", "-d", "a", "-f", "k=v"},
		{"api", "/x", "-H", "no colon"},
		{"api", "/x", "-H", "Authorization: Bearer other"},
		{"api", "/x", "-f", "novalue"},
		{"api", "/x", "-X", "GE T"},
		{"api"},
	} {
		r := runCLI(t, map[string]string{"XDG_CONFIG_HOME": t.TempDir(), "AUTHCTL_SERVER": "http://127.0.0.1:1", "AUTHCTL_KEYSTORE": "file"}, args...)
		if r.code != ExitUsage {
			t.Errorf("%q: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}

func TestAPIAndSwitchParseFlagsIntoOptions(t *testing.T) {
	t.Parallel()
	got, err := parse(t, nil, func(f *Factory, got *any) *cobra.Command { return NewCmdAPI(f, capture[APIOptions](got)) },
		"api", "-X", "post", "-H", "X-A: 1", "-H", "X-B: 2", "-f", "a=b", "-i", "/api/auth/logout")
	if err != nil {
		t.Fatal(err)
	}
	a := got.(*APIOptions)
	if a.Path != "/api/auth/logout" || a.Method != "POST" || len(a.Headers) != 2 || a.Fields[0] != "a=b" || !a.Include || a.DataSet {
		t.Errorf("%+v", a)
	}
	got, err = parse(t, nil, func(f *Factory, got *any) *cobra.Command { return NewCmdAPI(f, capture[APIOptions](got)) },
		"api", "-d", "", "/x")
	if err != nil || !got.(*APIOptions).DataSet {
		t.Errorf("-d '' is an empty body: %+v, %v", got, err)
	}
	got, err = parse(t, nil, func(f *Factory, got *any) *cobra.Command { return NewCmdSwitch(f, capture[SwitchOptions](got)) },
		"switch", "127.0.0.1:5000", "--json")
	if err != nil || got.(*SwitchOptions).Server != "127.0.0.1:5000" || !got.(*SwitchOptions).JSON {
		t.Errorf("%+v, %v", got, err)
	}
	got, err = parse(t, nil, func(f *Factory, got *any) *cobra.Command { return NewCmdStatus(f, capture[StatusOptions](got)) },
		"status", "--all", "--offline", "--insecure", "--ca-file", "ca.pem")
	if err != nil || !got.(*StatusOptions).All || !got.(*StatusOptions).Offline || got.(*StatusOptions).ClientFor == nil {
		t.Errorf("%+v, %v", got, err)
	}
}
