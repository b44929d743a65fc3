package main

import (
	"bufio"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// mountOptions are the -o options filesmount passes on. As root the mount
// is a mount(2) call, whose FUSE driver refuses with EINVAL any option it
// does not know (and noatime and the like are not data options there);
// otherwise fusermount3 runs it, which knows its own list. These work in
// both. fsname=, subtype= and max_read= are left out: filesmount sets
// them itself. allow_other and nonempty are spellings of flags.
var mountOptions = map[string]bool{
	"ro": true, "rw": true, "nosuid": true, "suid": true, "nodev": true, "dev": true, "noexec": true, "exec": true,
	"sync": true, "async": true, "dirsync": true, "default_permissions": true,
	"allow_other": true, // --allow-other
	"nonempty":    true, // --allow-non-empty, by FUSE 2's name, which fusermount3 no longer knows
}

func mountOptionNames() []string {
	var names []string
	for name := range mountOptions {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// foldMountOptions turns the -o spellings of flags into the flags, so
// that each is checked and applied in one place.
func (o *options) foldMountOptions() {
	o.mountOpts, o.allowOther = privateMountOptions(o.mountOpts, o.allowOther)
	if slices.Contains(o.mountOpts, "nonempty") {
		o.allowNonEmpty = true
		o.mountOpts = slices.DeleteFunc(o.mountOpts, func(opt string) bool { return opt == "nonempty" })
	}
}

// fuseConf is where fusermount3 looks for user_allow_other.
var fuseConf = "/etc/fuse.conf"

func checkMountOptions(f *pflag.FlagSet, o *options) error {
	for _, opt := range o.mountOpts {
		if !mountOptions[opt] {
			return invalidArg{"-o " + shown(opt) + ": not a mount option filesmount passes on; it takes " + strings.Join(mountOptionNames(), ", ")}
		}
	}
	if o.readOnly && slices.Contains(o.mountOpts, "rw") {
		return invalidArg{"-o rw: contradicts --read-only"}
	}
	// As root the mount is a mount(2) call, which needs no permission;
	// others go through fusermount3, which refuses allow_other unless
	// the administrator allowed it.
	if o.allowOther && os.Geteuid() != 0 && !userAllowOther(fuseConf) {
		return badFlag(f, "allow-other", "needs a line user_allow_other in %s when not run as root", fuseConf)
	}
	return nil
}

// userAllowOther reports whether the fuse.conf at path allows users'
// mounts to be opened to others, as fusermount3 reads it.
func userAllowOther(path string) bool {
	file, err := os.Open(path)
	if err != nil {
		return false
	}
	defer file.Close()
	lines := bufio.NewScanner(file)
	for lines.Scan() {
		line, _, _ := strings.Cut(lines.Text(), "#")
		if strings.TrimSpace(line) == "user_allow_other" {
			return true
		}
	}
	return false
}
