// Command authctl-docs writes authctl's man pages and shell completion scripts for the
// release packages: `go run ./cmd/authctl-docs -out build` (goreleaser runs it before
// building). It lives apart from authctl so that the man page renderer is not linked into
// the binary people run.
//
// Output: OUT/man/authctl.1.gz, OUT/man/authctl-serve.1.gz, … (one page per command) and
// OUT/completions/authctl.bash, _authctl (zsh), authctl.fish.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/authctl/authctl/cmd/authctl/cli"
)

func main() {
	out := flag.String("out", "build", "directory to write man/ and completions/ into")
	version := flag.String("version", "dev", "version named in the man pages' footer")
	date := flag.Int64("date", 0, "Unix time of the pages' date, for reproducible builds (default: now)")
	flag.Parse()
	when := time.Now()
	// goreleaser passes the commit time, which is the zero time when it could not read
	// the repository's state (a snapshot of a clone without a remote): use now then.
	if *date > 0 {
		when = time.Unix(*date, 0).UTC()
	}
	if err := generate(*out, *version, when); err != nil {
		fmt.Fprintln(os.Stderr, "authctl-docs:", err)
		os.Exit(1)
	}
}

// noEnv stands in for the environment: flag defaults that come from AUTHCTL_* variables
// must show the built-in defaults in the pages, not the packager's settings.
func noEnv(string) string { return "" }

func generate(out, version string, date time.Time) error {
	if err := writeManPages(filepath.Join(out, "man"), version, date); err != nil {
		return err
	}
	return writeCompletions(filepath.Join(out, "completions"))
}

// writeManPages writes one gzipped page per command that `authctl help` lists.
func writeManPages(dir, version string, date time.Time) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ios := &cli.IOStreams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}
	root := cli.NewCmdRoot(cli.NewFactory(cli.BuildInfo{Version: version}, ios, noEnv))
	var walk func(*cobra.Command) error
	walk = func(c *cobra.Command) error {
		// No "Auto generated … on DATE" section: the pages must not change from one
		// build of the same commit to the next.
		c.DisableAutoGenTag = true
		for _, sub := range c.Commands() {
			if !sub.IsAvailableCommand() || sub.IsAdditionalHelpTopicCommand() {
				continue
			}
			if err := walk(sub); err != nil {
				return err
			}
		}
		var page bytes.Buffer
		header := &doc.GenManHeader{Section: "1", Date: &date, Source: "authctl " + version, Manual: "authctl manual"}
		if err := doc.GenMan(c, header, &page); err != nil {
			return fmt.Errorf("man page of %s: %w", c.CommandPath(), err)
		}
		name := strings.ReplaceAll(c.CommandPath(), " ", "-") + ".1.gz"
		return writeGzip(filepath.Join(dir, name), page.Bytes())
	}
	return walk(root)
}

// writeGzip writes data gzipped (as Debian policy wants man pages) with no file name or
// time in the gzip header, so the output is the same on every build.
func writeGzip(path string, data []byte) error {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(data); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// writeCompletions runs `authctl completion SHELL` for each shell the packages install a
// script for, so the scripts are exactly what users would generate themselves.
func writeCompletions(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for shell, name := range map[string]string{"bash": "authctl.bash", "zsh": "_authctl", "fish": "authctl.fish"} {
		var stdout, stderr bytes.Buffer
		ios := &cli.IOStreams{In: strings.NewReader(""), Out: &stdout, ErrOut: &stderr}
		f := cli.NewFactory(cli.BuildInfo{}, ios, noEnv)
		if err := cli.Execute(context.Background(), f, []string{"completion", shell}); err != nil {
			return fmt.Errorf("completion %s: %w: %s", shell, err, stderr.String())
		}
		if err := os.WriteFile(filepath.Join(dir, name), stdout.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}
