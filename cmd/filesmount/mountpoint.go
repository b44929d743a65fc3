package main

import (
	"fmt"
	"os"

	"github.com/filesmount/filesmount/fs"
)

// ourFSType is the type the kernel shows for a filesmount mount (go-fuse
// mounts "fuse." + fs.Mount's name, with mount(2) or fusermount3).
const ourFSType = "fuse.filesmount"

// checkMountpoint refuses a MOUNTPOINT where the mount would hide
// something, before any request to a remote (as rclone does):
//   - a directory that is not empty, or that is already a mount point,
//     unless allowNonEmpty;
//   - a directory where a filesmount is mounted, even with allowNonEmpty:
//     stacking a second daemon there only hides the first, which goes on
//     running (and uploading) where no one can reach it.
//
// A stale mount of a crashed daemon is detached by fs.CheckMountpoint when
// root, as before; otherwise its message says how to clean it up.
func checkMountpoint(dir string, allowNonEmpty bool) error {
	if err := fs.CheckMountpoint(dir); err != nil {
		return invalidArg{err.Error()}
	}
	if m, ok := mountAt(dir); ok {
		if m.fsType == ourFSType {
			return invalidArg{fmt.Sprintf("%s: filesmount is already mounted there (%s); stop that daemon, or run 'fusermount3 -u %s', first",
				dir, m.source, dir)}
		}
		if !allowNonEmpty {
			return invalidArg{fmt.Sprintf("%s: directory already mounted (%s); pass --allow-non-empty to mount over it anyway", dir, m)}
		}
		return nil
	}
	if allowNonEmpty {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return invalidArg{fmt.Sprintf("mountpoint %v", err)}
	}
	defer d.Close()
	if names, _ := d.Readdirnames(1); len(names) > 0 {
		return invalidArg{fmt.Sprintf("%s: directory is not empty (it holds %q); the mount would hide its contents: "+
			"choose an empty directory, or pass --allow-non-empty", dir, names[0])}
	}
	return nil
}

// mount is what a mount table says is mounted at a directory.
type mount struct {
	fsType, source string // "" when the platform does not tell
}

func (m mount) String() string {
	if m.fsType == "" {
		return "another file system"
	}
	return m.fsType + " from " + m.source
}
