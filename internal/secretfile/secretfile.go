// Package secretfile reads and writes small credential files (tokens,
// cookies) so that they are never readable by other users.
package secretfile

import (
	"fmt"
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
// user's remote account.
func Read(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("refusing to use %s: it is accessible by other users (mode %04o); run: chmod 600 %s",
			path, fi.Mode().Perm(), path)
	}
	return os.ReadFile(path)
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
