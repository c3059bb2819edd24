package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGenerateWritesPagesAndCompletions(t *testing.T) {
	t.Setenv("AUTHCTL_ADDR", "10.9.8.7:1") // must not leak into the pages' defaults
	date := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	out := t.TempDir()
	if err := generate(out, "v1.2.3", date); err != nil {
		t.Fatal(err)
	}

	serve := readGzip(t, filepath.Join(out, "man", "authctl-serve.1.gz"))
	for _, want := range []string{`.TH "AUTHCTL-SERVE" "1" "Nov 2026" "authctl v1.2.3" "authctl manual"`, "AUTHCTL_ADDR", "127.0.0.1:5000", "--config"} {
		if !strings.Contains(serve, want) {
			t.Errorf("authctl-serve(1) lacks %q", want)
		}
	}
	if strings.Contains(serve, "10.9.8.7") || strings.Contains(serve, "Auto generated") {
		t.Error("authctl-serve(1) depends on the environment or the build time")
	}
	for _, page := range []string{"authctl.1.gz", "authctl-login.1.gz", "authctl-user-add.1.gz", "authctl-backup.1.gz"} {
		if _, err := os.Stat(filepath.Join(out, "man", page)); err != nil {
			t.Errorf("no page %s: %v", page, err)
		}
	}
	for name, want := range map[string]string{"authctl.bash": "bash completion V2 for authctl", "_authctl": "#compdef authctl", "authctl.fish": "complete -c authctl"} {
		b, err := os.ReadFile(filepath.Join(out, "completions", name))
		if err != nil || !bytes.Contains(b, []byte(want)) {
			t.Errorf("completions/%s: %v, want it to hold %q", name, err, want)
		}
	}

	// The same commit builds the same pages.
	again := t.TempDir()
	if err := generate(again, "v1.2.3", date); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(out, "man", "authctl-serve.1.gz"))
	b, _ := os.ReadFile(filepath.Join(again, "man", "authctl-serve.1.gz"))
	if !bytes.Equal(a, b) {
		t.Error("two runs wrote different pages")
	}
}

func readGzip(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
