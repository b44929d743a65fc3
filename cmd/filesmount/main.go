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

// usageError marks errors that are the user's invocation, not a failure.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

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
