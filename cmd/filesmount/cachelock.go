package main

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockCacheDir makes a daemon the only user of its cache directory: the
// upload journal there is replayed at start, and a second daemon would
// take the first one's uploads in progress for a crash's leftovers. The
// lock goes with the process, so a killed daemon never blocks the next.
func lockCacheDir(dir string) (release func(), err error) {
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cache dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		raw := make([]byte, 32)
		n, _ := f.ReadAt(raw, 0)
		f.Close()
		holder := strings.TrimSpace(string(raw[:n]))
		if holder == "" {
			holder = "another process"
		} else {
			holder = "process " + holder
		}
		return nil, fmt.Errorf("cache dir %s is in use by another filesmount (%s); give each mount its own --cache-dir", dir, holder)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() { f.Close() }, nil
}

// openCacheDir makes dir private (prepareCacheDir) and takes it for this
// daemon (lockCacheDir), before any request: another daemon's directory
// must stop a start-up at once, not after logging in.
func openCacheDir(dir string, logger *log.Logger) (release func(), err error) {
	if err := prepareCacheDir(dir, logger); err != nil {
		return nil, err
	}
	return lockCacheDir(dir)
}
