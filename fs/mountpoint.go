package fs

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// CheckMountpoint verifies that dir can be mounted on. A directory left
// behind by a crashed daemon answers ENOTCONN ("transport endpoint is not
// connected"); as root the stale mount is detached, otherwise the error
// says how to clean it up.
func CheckMountpoint(dir string) error {
	_, err := os.Stat(dir)
	if errors.Is(err, syscall.ENOTCONN) || errors.Is(err, syscall.ECONNABORTED) {
		if os.Geteuid() == 0 && detachStale(dir) == nil {
			return nil
		}
		return fmt.Errorf("%s is a stale FUSE mount left by a daemon that exited without unmounting "+
			"(transport endpoint is not connected); clean it up with: fusermount3 -u %s  (or as root: umount -l %s)", dir, dir, dir)
	}
	if err != nil {
		return fmt.Errorf("mountpoint %s: %w", dir, err)
	}
	fi, _ := os.Stat(dir)
	if !fi.IsDir() {
		return fmt.Errorf("mountpoint %s is not a directory", dir)
	}
	return nil
}
