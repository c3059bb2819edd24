//go:build !unix

package cli

// raiseOpenFileLimit has nothing to raise where there is no RLIMIT_NOFILE (Windows counts
// handles differently); 0 means the limit is unknown.
func raiseOpenFileLimit() (uint64, error) { return 0, nil }
