// Command filesmount mounts remote file APIs (CBRAIN userfiles, VRChat
// files) as a local directory with FUSE.
//
//	filesmount [flags] MOUNTPOINT      mount (foreground; Ctrl-C unmounts)
//	filesmount login cbrain --url URL  store an API token
//	filesmount demo [MOUNTPOINT]       mount built-in emulators with sample data
//	filesmount cbrain compress|uncompress|sync PATH...
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit statuses: 0 done (or unmounted cleanly); 1 a failure (remote,
// credentials, cache dir, mount); 2 the invocation was refused (arguments,
// flag values, MOUNTPOINT) before any request to a remote. Scripts can
// tell from 2 that running the same command again is useless.

// usageError marks an invocation of the wrong shape (missing or extra
// arguments): exit status 2, with a pointer to --help.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// invalidArg marks a flag value, a combination of flags, or a MOUNTPOINT
// that cannot work: exit status 2 and one line, which already names the
// flag or directory and what would be accepted, so no --help pointer.
type invalidArg struct{ msg string }

func (e invalidArg) Error() string { return e.msg }

func main() {
	defer exitOnPanic()
	err := run(os.Args[1:])
	if err == nil || errors.Is(err, pflag.ErrHelp) {
		return
	}
	if errors.Is(err, errSilent) {
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "filesmount: %v\n", err)
	var ia invalidArg
	if errors.As(err, &ia) {
		os.Exit(2)
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(os.Stderr, "Run 'filesmount --help' for usage.")
		os.Exit(2)
	}
	os.Exit(1)
}

func run(args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "login":
			return runLogin(args[1:])
		case "demo":
			return runDemo(args[1:])
		case "cbrain":
			return runCBRAIN(args[1:])
		case "version", "--version":
			fmt.Println("filesmount", version)
			return nil
		}
	}
	return runMount(args)
}
