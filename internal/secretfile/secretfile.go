// Package secretfile reads and writes small credential files (tokens,
// cookies) so that they are never readable by other users.
package secretfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
)

// Write replaces path with data, atomically, mode 0600, creating the parent
// directory with mode 0700 if it is missing.
func Write(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	// CreateTemp makes the file 0600 already; Chmod guards against an
	// unusual umask or platform default.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Read returns the contents of path. It refuses a file that group or others
// may read or write, because a leaked credential gives access to the
// user's remote account; a symbolic link, which whoever controls its
// target could point elsewhere; and a file that belongs to another user,
// who could read or replace it. Each refusal says what to do.
func Read(path string) ([]byte, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		target, _ := os.Readlink(path)
		return nil, fmt.Errorf("refusing to use %s: it is a symbolic link (to %s); a credential file must be a regular "+
			"file of your own: pass the real path, or replace the link with the file", path, target)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("refusing to use %s: it is not a regular file (%s)", path, fi.Mode().Type())
	}
	f, err := openNoFollow(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Check the file actually opened, not the name: it may have been
	// replaced since the Lstat.
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := checkPrivate(path, fi); err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(f, maxSize))
}

// maxSize bounds what Read returns: credential files are tiny.
const maxSize = 1 << 20

// checkPrivate refuses a file that others may access or that is not the
// current user's.
func checkPrivate(path string, fi os.FileInfo) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("refusing to use %s: it is not a regular file (%s)", path, fi.Mode().Type())
	}
	if uid, ok := ownerOf(fi); ok && uid != os.Geteuid() {
		return fmt.Errorf("refusing to use %s: it belongs to user id %d, not to you (user id %d); "+
			"log in again to create your own, or pass a file of your own", path, uid, os.Geteuid())
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("refusing to use %s: it is accessible by other users (mode %04o); run: chmod 600 %s",
			path, fi.Mode().Perm(), path)
	}
	return nil
}

// ConfigDir is the directory filesmount keeps credentials in:
// $XDG_CONFIG_HOME/filesmount or the platform's equivalent.
func ConfigDir() (string, error) {
	base, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(base, "filesmount"), nil
}
