package main

import (
	"errors"
	"fmt"
	"log"
	"os"
	"syscall"
)

// prepareCacheDir makes sure dir is a directory only the mounting user can
// enter: it holds staged uploads, spooled downloads, the upload journal and
// the recovery folder, i.e. the user's data. A missing one is created
// 0700. An existing one of the user's that others can enter is tightened
// to 0700, with one log line (mkdir and t.TempDir make 0755 folders, and
// refusing those would only teach users to chmod). A folder of another
// user, or a shared one (sticky bit, like /tmp), is refused: changing its
// mode would break whoever else uses it.
func prepareCacheDir(dir string, logger *log.Logger) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("cache dir: %w", err)
		}
		// MkdirAll applies the umask, which can only remove bits; make
		// the mode exact anyway.
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("cache dir: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("cache dir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("cache dir %s is not a directory", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("refusing cache dir %s: it belongs to user id %d, not to you (%d); pass a --cache-dir of your own",
			dir, st.Uid, os.Geteuid())
	}
	perm := fi.Mode().Perm()
	if perm&0o077 == 0 {
		return nil
	}
	if fi.Mode()&os.ModeSticky != 0 {
		return fmt.Errorf("refusing cache dir %s: it is a shared folder (mode %04o, sticky); pass a --cache-dir of your own, "+
			"e.g. %s/filesmount", dir, perm|0o1000, dir)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("cache dir %s is accessible by other users (mode %04o) and cannot be made private: %w", dir, perm, err)
	}
	logger.Printf("cache dir %s was accessible by other users (mode %04o); changed it to 0700: it holds your staged uploads and downloaded data", dir, perm)
	return nil
}

// privateMountOptions keeps the mount private unless other users were
// asked for: "-o allow_other" is taken as --allow-other, so that it always
// comes with default_permissions (see fs.Mount), never alone.
func privateMountOptions(opts []string, allowOther bool) ([]string, bool) {
	var out []string
	for _, o := range opts {
		if o == "allow_other" {
			allowOther = true
			continue
		}
		out = append(out, o)
	}
	return out, allowOther
}
