//go:build unix

package cli

import "syscall"

// raiseOpenFileLimit lifts the soft RLIMIT_NOFILE to the hard limit and returns the soft
// limit in force afterwards. Every connection holds a descriptor, and distributions still
// ship a soft limit of 1024, which an idle-connection flood exhausts in seconds. The Go
// runtime has done the same since Go 1.19; doing it here as well makes the number that
// sizes the default --max-conns explicit, and an error worth logging.
func raiseOpenFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur >= lim.Max {
		return uint64(lim.Cur), nil
	}
	want := lim
	want.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		// macOS refuses an unlimited hard limit as the soft one; what we have stays.
		return uint64(lim.Cur), err
	}
	return uint64(want.Cur), nil
}
