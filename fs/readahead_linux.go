package fs

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/filesmount/filesmount/internal/mountinfo"
)

// raiseReadAhead sets the kernel's read-ahead for the mount at dir to kb
// KiB. The kernel offers FUSE only its default (128 KiB) at INIT and a
// daemon may not ask for more there, so sequential reads arrive as
// 128 KiB requests: one round trip through the daemon per 128 KiB. The
// mount's bdi read_ahead_kb in sysfs can be raised afterwards (root
// only); the kernel then sends reads of up to max_pages (1 MiB).
func raiseReadAhead(dir string, kb int) error {
	dev, err := mountDevice(dir)
	if err != nil {
		return err
	}
	return os.WriteFile("/sys/class/bdi/"+dev+"/read_ahead_kb", []byte(strconv.Itoa(kb)), 0)
}

// mountDevice returns the "major:minor" of the mount at dir from
// /proc/self/mountinfo. It does not stat dir: that would be a request to
// this very mount and would leave its root's attributes in the kernel's
// cache.
func mountDevice(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	dev := ""
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// ID PARENT MAJOR:MINOR ROOT MOUNTPOINT ...; the last match is
		// the mount on top.
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && mountinfo.Unescape(fields[4]) == abs {
			dev = fields[2]
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	if dev == "" {
		return "", fmt.Errorf("%s is not in /proc/self/mountinfo", abs)
	}
	return dev, nil
}
