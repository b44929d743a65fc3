//go:build linux

package e2e

import (
	"strings"
	"sync"
)

// syncWriter lets the daemon's logger and the test read the log safely.
type syncWriter struct {
	mu sync.Mutex // protects b
	b  *strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
