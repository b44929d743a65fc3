package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/filesmount/filesmount/internal/mountinfo"
)

// mountAt reports what is mounted at dir, from /proc/self/mountinfo: it
// knows bind mounts (which share the device of their parent, so stat
// cannot tell) and needs no access to the mount itself. An autofs entry
// does not count: it stands for a mount that is not there yet (as rclone
// reads it).
func mountAt(dir string) (mount, bool) {
	path, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return mount{}, false
	}
	if path, err = filepath.Abs(path); err != nil {
		return mount{}, false
	}
	raw, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return mount{}, false
	}
	var found mount
	ok := false
	for _, line := range strings.Split(string(raw), "\n") {
		// id parent major:minor root MOUNTPOINT options [optional...] - TYPE SOURCE super-options
		fields := strings.Fields(line)
		sep := -1
		for i := 6; i < len(fields); i++ {
			if fields[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+2 >= len(fields) || mountinfo.Unescape(fields[4]) != path {
			continue
		}
		// Later lines are mounted on top of earlier ones at the same place.
		found, ok = mount{fsType: fields[sep+1], source: mountinfo.Unescape(fields[sep+2])}, fields[sep+1] != "autofs"
	}
	return found, ok
}
