// Command authctl is a JWT token server (authctl serve) and its command-line client.
package main

import (
	"os"

	"github.com/authctl/authctl/cmd/authctl/cli"
)

// Set by the release build: -ldflags "-X main.version=… -X main.commit=… -X main.date=…".
var (
	version = "dev"
	commit  = "none"
	date    = "unknown"
)

func main() {
	os.Exit(cli.Main(cli.BuildInfo{Version: version, Commit: commit, Date: date}))
}
