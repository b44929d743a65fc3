package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/filesmount/filesmount/fs"
	"github.com/filesmount/filesmount/remote/cbrain/cbraintest"
)

// runDemo starts the built-in emulators on loopback, fills them with
// sample data and mounts them, so filesmount can be tried without an
// account anywhere.
func runDemo(args []string) error {
	var o options
	f := pflag.NewFlagSet("filesmount demo", pflag.ContinueOnError)
	o.register(f)
	f.Usage = usage(f)
	if err := f.Parse(args); err != nil {
		return err
	}
	dir := "mnt"
	switch f.NArg() {
	case 0:
	case 1:
		dir = f.Arg(0)
	default:
		return usageError{"demo takes at most one MOUNTPOINT"}
	}
	// Clean up a stale mount of a crashed demo first: mkdir would fail on it.
	if err := fs.CheckMountpoint(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	logger := log.New(os.Stderr, "filesmount: ", log.LstdFlags)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	data, err := os.MkdirTemp("", "filesmount-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(data)
	srv, err := cbraintest.New(cbraintest.Options{DataDir: data})
	if err != nil {
		return fmt.Errorf("starting the CBRAIN emulator: %w", err)
	}
	defer srv.Close()
	_, token, err := cbraintest.SeedDemo(srv)
	if err != nil {
		return fmt.Errorf("seeding the CBRAIN emulator: %w", err)
	}
	cb, err := connectCBRAIN(ctx, srv.URL(), token, &o, logger)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, `
filesmount demo: a CBRAIN emulator runs at %s with sample data.
Try, from another terminal:
  ls -l %[2]s/cbrain/                 # one directory per data provider
  ls -l %[2]s/cbrain/MainStore/       # userfiles; collections are directories
  find %[2]s -type f | head
  cat %[2]s/cbrain/MainStore/README.txt
  python3 -c 'import nibabel as nib; print(nib.load("%[2]s/cbrain/MainStore/sub-01_T1w.nii").shape)'
Press Ctrl-C here to unmount and stop.

`, srv.URL(), dir)
	return serve(ctx, dir, &o, logger, []remoteSetup{*cb})
}
