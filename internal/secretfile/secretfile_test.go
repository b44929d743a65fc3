package secretfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteIsPrivateAndReadable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "token")
	if err := Write(path, []byte("secret")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %o, want 600", fi.Mode().Perm())
	}
	di, _ := os.Stat(filepath.Dir(path))
	if di.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %o, want 700", di.Mode().Perm())
	}
	got, err := Read(path)
	if err != nil || string(got) != "secret" {
		t.Fatalf("Read = %q, %v", got, err)
	}
}

func TestReadRefusesGroupReadable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o644)
	_, err := Read(path)
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("Read of a 0644 file: err = %v, want a refusal naming chmod 600", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatal("error leaks the secret")
	}
}

func TestReadRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	if err := Write(real, []byte("secret")); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "token")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	_, err := Read(link)
	if err == nil || !strings.Contains(err.Error(), "symbolic link") || !strings.Contains(err.Error(), "real path") {
		t.Fatalf("Read of a symlink: err = %v, want a refusal naming the symbolic link", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatal("error leaks the secret")
	}
	if got, err := Read(real); err != nil || string(got) != "secret" {
		t.Fatalf("Read of the real file = %q, %v", got, err)
	}
}

func TestReadRefusesOtherOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	path := filepath.Join(t.TempDir(), "token")
	if err := Write(path, []byte("secret")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	_, err := Read(path)
	if err == nil || !strings.Contains(err.Error(), "belongs to user id 4242") {
		t.Fatalf("Read of another user's file: err = %v, want a refusal naming the owner", err)
	}
}

func TestReadRefusesNonRegular(t *testing.T) {
	_, err := Read(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("Read of a directory: err = %v", err)
	}
}

func TestReadRefusesWorldWritable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	if err := Write(path, []byte("secret")); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o602)
	if _, err := Read(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("Read of a 0602 file: err = %v", err)
	}
}
