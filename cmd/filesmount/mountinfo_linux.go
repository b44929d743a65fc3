package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
		if sep < 0 || sep+2 >= len(fields) || unescapeMountinfo(fields[4]) != path {
			continue
		}
		// Later lines are mounted on top of earlier ones at the same place.
		found, ok = mount{fsType: fields[sep+1], source: unescapeMountinfo(fields[sep+2])}, fields[sep+1] != "autofs"
	}
	return found, ok
}

// unescapeMountinfo undoes the kernel's octal escapes (\040 for a space,
// \011, \012, \134) in mountinfo paths.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
