package fs

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// raiseReadAhead sets the kernel's read-ahead for the mount at dir to kb
// KiB. The kernel offers FUSE only its default (128 KiB) at INIT and a
// daemon may not ask for more there, so sequential reads arrive as
// 128 KiB requests: one round trip through the daemon per 128 KiB. The
// backing device's read_ahead_kb in sysfs can be raised afterwards (root
// only); the kernel then sends reads of up to max_pages (1 MiB).
func raiseReadAhead(dir string, kb int) error {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return err
	}
	path := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev))
	return os.WriteFile(path, []byte(strconv.Itoa(kb)), 0)
}
