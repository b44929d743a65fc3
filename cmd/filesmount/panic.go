package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// exitOnPanic, deferred first in main, turns a panic of the main goroutine
// into one line saying it is a bug, then the stack, and exit status 2. The
// stack holds function names and argument words only: no request, header
// or token is printed (and the clients never put a secret in an error or
// a panic value). Panics in other goroutines (FUSE requests) still end the
// process with Go's own report, which has the same property.
func exitOnPanic() {
	r := recover()
	if r == nil {
		return
	}
	reportPanic(os.Stderr, r, debug.Stack())
	os.Exit(2)
}

func reportPanic(w io.Writer, r any, stack []byte) {
	fmt.Fprintf(w, "filesmount: internal error: %v\n(this is a bug in filesmount; please report it with the stack below)\n%s", r, stack)
}
