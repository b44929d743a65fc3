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
