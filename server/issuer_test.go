package server_test

import (
	"strings"
	"testing"

	"github.com/authctl/authctl/server"
)

// TestIssuerRule is the domain's rule for iss (README "Upgrading"): a URL as RFC 8414 wants
// it, or, for deployments keeping old tokens valid, a plain name; never something that
// looks like a URL and is not one.
func TestIssuerRule(t *testing.T) {
	t.Parallel()
	if iss := server.DefaultConfig().Issuer; iss != "http://127.0.0.1:5000" {
		t.Errorf("default issuer %q; want the public URL of the default --addr", iss)
	}
	for iss, ok := range map[string]bool{
		"https://auth.example.com":          true,
		"https://auth.example.com/":         true,
		"https://auth.example.com:8443/idp": true,
		"http://127.0.0.1:5000":             true,
		"http://[::1]:5000":                 true,
		"authctl":                           true, // the old default, kept with --allow-non-url-issuer
		"":                                  false,
		"auth ctl":                          false,
		"https://auth.example.com?x=1":      false,
		"https://auth.example.com#top":      false,
		"https://user@auth.example.com":     false,
		"ftp://auth.example.com":            false,
		"https://":                          false,
		"https:auth.example.com":            false,
		"urn:authctl":                       false,
		"auth.example.com:443":              false,
	} {
		cfg := server.DefaultConfig()
		cfg.Issuer = iss
		err := cfg.Validate()
		if ok && err != nil {
			t.Errorf("%q refused: %v", iss, err)
		}
		if !ok && (err == nil || !strings.Contains(err.Error(), "issuer")) {
			t.Errorf("%q accepted (%v)", iss, err)
		}
	}
}
