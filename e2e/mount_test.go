//go:build linux

package e2e

import (
	"context"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/filesmount/filesmount/cache"
	"github.com/filesmount/filesmount/fs"
	"github.com/filesmount/filesmount/remote"
	"github.com/filesmount/filesmount/remote/cbrain"
	"github.com/filesmount/filesmount/remote/cbrain/cbraintest"
)

// requireFUSE skips when this machine cannot mount, except in CI, where a
// mount test that cannot run is a failure.
func requireFUSE(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("mount test skipped with -short")
	}
	_, err := os.Stat("/dev/fuse")
	canMount := err == nil && (os.Geteuid() == 0 || hasCommand("fusermount3"))
	if canMount {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but FUSE is unusable here (/dev/fuse: %v, euid %d); run 'make deps' as root", err, os.Geteuid())
	}
	t.Skip("FUSE unavailable: need /dev/fuse and root or fusermount3")
}

func hasCommand(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}

// requireCommand fails in CI (where the Makefile installs the tools) and
// skips elsewhere when a program the test drives is missing.
func requireCommand(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil || hasCommand(path) {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but %s is missing; 'make deps' installs it", path)
	}
	t.Skipf("%s not installed (make deps installs it)", path)
}

// cbrainEnv is an emulated portal mounted at mnt.
type cbrainEnv struct {
	m     *mounted
	srv   *cbraintest.Server
	cache *cache.Cache
	mnt   string
	token string
	user  int
	logs  *syncWriter // the daemon's log
}

type envOptions struct {
	uploadDelay time.Duration // emulator: time before an upload's size is set
	cacheDir    string        // default a temporary directory
	cacheSize   int64
	metadataTTL time.Duration
	readOnly    bool
	seed        func(t *testing.T, srv *cbraintest.Server, user int)
	release     cbraintest.Release        // "": FILESMOUNT_CBRAIN_RELEASE, else the current one
	display     cbraintest.DisplayOptions // the emulator's play of unrecorded display answers
}

// mountCBRAIN starts an emulated portal with the demo data plus whatever
// opts.seed adds, and mounts it in a temporary directory.
func mountCBRAIN(t *testing.T, opts envOptions) *cbrainEnv {
	t.Helper()
	requireFUSE(t)
	srv, err := cbraintest.New(cbraintest.Options{DataDir: t.TempDir(), UploadDelay: opts.uploadDelay, BACDelay: 20 * time.Millisecond,
		Release: opts.release, Display: opts.display})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	user, token, err := cbraintest.SeedDemo(srv)
	if err != nil {
		t.Fatal(err)
	}
	if opts.seed != nil {
		opts.seed(t, srv, user)
	}
	client, err := cbrain.NewClient(cbrain.Config{URL: srv.URL(), Token: token})
	if err != nil {
		t.Fatal(err)
	}
	client.SyncTimeout = 20 * time.Second
	client.PollInterval = 20 * time.Millisecond
	client.UploadTimeout = 5 * time.Second

	m := mountStores(t, mountOptions{cacheSize: opts.cacheSize, metadataTTL: opts.metadataTTL, readOnly: opts.readOnly, cacheDir: opts.cacheDir}, cbrain.NewStore(client))
	return &cbrainEnv{srv: srv, cache: m.cache, mnt: m.mnt, token: token, user: user, logs: m.logs, m: m}
}

// mounted is a FUSE mount of some stores through one cache.
type mounted struct {
	root     *fs.Root
	server   *fuse.Server // Unmount is idempotent: a test may unmount early
	cacheDir string
	cache    *cache.Cache
	mnt      string
	logs     *syncWriter // the daemon's log
}

type mountOptions struct {
	cacheSize   int64 // default 64 MiB
	metadataTTL time.Duration
	readOnly    bool
	cacheDir    string // default a temporary directory
	spoolSize   int64  // disk budget of the spool (default the cache's)
}

// mountStores mounts stores in a temporary directory, through a cache,
// and unmounts them at the end of the test.
func mountStores(t *testing.T, mo mountOptions, stores ...remote.Store) *mounted {
	t.Helper()
	logs := &syncWriter{b: &strings.Builder{}}
	logger := log.New(logs, "", 0)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if mo.cacheSize == 0 {
		mo.cacheSize = 64 << 20
	}
	if mo.cacheDir == "" {
		mo.cacheDir = t.TempDir()
	}
	opts := cache.Options{BlockSize: 1 << 20, MaxBytes: mo.cacheSize, Dir: filepath.Join(mo.cacheDir, "spool"), Logger: logger, MaxSpoolBytes: mo.spoolSize}
	// As the daemon does (cmd/filesmount): keep the heap near the budget.
	old := debug.SetMemoryLimit(opts.MemoryLimit())
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	c, err := cache.New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var backends []fs.Backend
	for _, s := range stores {
		cs := c.Wrap(s)
		backends = append(backends, fs.Backend{Store: cs, Reader: cs, Writer: cs.Writer()})
	}
	root, err := fs.NewRoot(backends, fs.Options{MetadataTTL: mo.metadataTTL, Logger: logger, CacheDir: mo.cacheDir, ReadOnly: mo.readOnly})
	if err != nil {
		t.Fatal(err)
	}
	var mountOpts []string
	if mo.readOnly {
		mountOpts = []string{"ro"}
	}
	mnt := t.TempDir()
	server, err := fs.Mount(mnt, root, fs.MountConfig{FsName: "filesmount-test", Options: mountOpts, Logger: logger,
		Debug: os.Getenv("FILESMOUNT_TEST_DEBUG") != ""})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := server.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	return &mounted{cache: c, mnt: mnt, logs: logs, root: root, server: server, cacheDir: mo.cacheDir}
}

// run runs a program and returns its standard output, failing the test
// with its standard error if it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := command(name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func command(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = os.TempDir() // never a directory on the mount
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// waitFor polls cond for up to 5 s: for effects of the releases the
// kernel sends asynchronously after close.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
