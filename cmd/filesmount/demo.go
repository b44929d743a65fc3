package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/filesmount/filesmount/internal/faults"
	"github.com/filesmount/filesmount/internal/secretfile"
	"github.com/filesmount/filesmount/remote/cbrain"
	"github.com/filesmount/filesmount/remote/cbrain/cbraintest"
	"github.com/filesmount/filesmount/remote/vrchat"
	"github.com/filesmount/filesmount/remote/vrchat/vrchattest"
)

// runDemo starts the built-in emulators on loopback, fills them with
// sample data and mounts them, so filesmount can be tried without an
// account anywhere.
func runDemo(args []string) error {
	var o options
	f := pflag.NewFlagSet("filesmount demo", pflag.ContinueOnError)
	o.registerMount(f)
	// --faults is for manual trials of the failure handling (the tests set
	// the same rules in code). The grammar is faults.Grammar, e.g.
	//   --faults='status=503:count=3:route=/userfiles,latency=50ms'
	//   --faults='reset=64k:p=0.1:route=GET s3'   (VRChat downloads)
	//   --faults='stall:count=1:route=GET /userfiles/:id/content'
	faultSpec := f.String("faults", "", "demo only: inject faults into both emulators once mounted, e.g. "+
		"'status=503:count=3:route=/userfiles,latency=50ms,reset=64k:p=0.1:route=s3'.\n"+faults.Grammar)
	f.Usage = usage(f)
	if err := parseFlags(f, args); err != nil {
		return err
	}
	faultRules, err := faults.Parse(*faultSpec)
	if err != nil {
		return invalidArg{"--faults: " + err.Error()}
	}
	// One injector for both emulators, so that count= counts requests to
	// either; seeded so that a trial can be repeated.
	inj := faults.New(1)
	dir := "mnt"
	switch f.NArg() {
	case 0:
	case 1:
		dir = f.Arg(0)
	default:
		return usageError{"demo takes at most one MOUNTPOINT"}
	}
	if !f.Changed("cache-dir") {
		// The demo's own, chosen below: not the default to check.
		o.cacheDir = ""
	}
	o.foldMountOptions()
	if err := checkFlags(f, &o, dir); err != nil {
		return err
	}
	// The demo makes its MOUNTPOINT (./mnt by default) if missing. A stale
	// mount left by a crashed demo fails stat with ENOTCONN, not as
	// missing: checkMountpoint cleans it up.
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if err := checkMountpoint(dir, o.allowNonEmpty); err != nil {
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
	if !f.Changed("cache-dir") {
		// The demo's pending uploads must never be replayed against a
		// real remote by a later mount.
		o.cacheDir = filepath.Join(data, "cache")
	}
	release, err := openCacheDir(o.cacheDir, logger)
	if err != nil {
		return err
	}
	defer release()
	srv, err := cbraintest.New(cbraintest.Options{DataDir: data, Faults: inj})
	if err != nil {
		return fmt.Errorf("starting the CBRAIN emulator: %w", err)
	}
	defer srv.Close()
	_, token, err := cbraintest.SeedDemo(srv)
	if err != nil {
		return fmt.Errorf("seeding the CBRAIN emulator: %w", err)
	}
	cb, err := connectCBRAIN(ctx, cbrainLogin{url: srv.URL(), token: token}, &o, logger)
	if err != nil {
		return err
	}
	// So that `filesmount cbrain ...` can be tried on the demo too, from
	// the address the mount bound the token to.
	tokenFile := filepath.Join(data, "cbrain-token.json")
	tf := cbrain.TokenFile{URL: srv.URL(), Token: token}
	if a := cb.store.(*cbrain.Store).Client().LocalAddr(); a.IsValid() {
		tf.LocalAddr = a.String()
	}
	raw, _ := json.Marshal(tf)
	if err := secretfile.Write(tokenFile, raw); err != nil {
		return err
	}
	vr, vrURL, stopVRChat, err := startVRChatDemo(ctx, data, inj, &o, logger)
	if err != nil {
		return err
	}
	defer stopVRChat()
	if len(faultRules) > 0 {
		// Added only now: the start-up checks above must succeed.
		inj.Add(faultRules...)
		fmt.Fprintf(os.Stderr, "filesmount demo: injecting faults into both emulators: %s\n", faults.Format(faultRules))
		defer func() {
			st, line := inj.Stats(), ""
			for _, k := range faults.Kinds {
				line += fmt.Sprintf(" %s=%d", k, st[k])
			}
			fmt.Fprintf(os.Stderr, "filesmount demo: faults delivered:%s\n", line)
		}()
	}
	fmt.Fprintf(os.Stderr, `
filesmount demo: emulators with sample data run at %s (CBRAIN) and %s (VRChat).
Try, from another terminal:
  ls -l %[3]s/cbrain/                 # one directory per data provider
  ls -l %[3]s/cbrain/MainStore/       # userfiles; collections are directories
  cat %[3]s/cbrain/MainStore/README.txt
  python3 -c 'import nibabel as nib; print(nib.load("%[3]s/cbrain/MainStore/sub-01_T1w.nii").shape)'
  ls -l %[3]s/vrchat/                 # one directory per VRChat File
  ls -l "%[3]s/vrchat/Profile picture/"   # versions newest first, latest.png
  ls %[3]s/vrchat/tags/gallery/
  find %[3]s -type f | head -30
  cp /etc/hostname %[3]s/cbrain/MainStore/uploaded.txt   # an upload
  filesmount cbrain compress --cbrain-token-file %[4]s %[3]s/cbrain/MainStore/uploaded.txt
Press Ctrl-C here to unmount and stop.

`, srv.URL(), vrURL, dir, tokenFile)
	return serve(ctx, dir, &o, logger, []remoteSetup{*cb, *vr})
}

// startVRChatDemo starts the VRChat emulator with sample data and a
// logged-in session, as `filesmount login vrchat` would leave it.
func startVRChatDemo(ctx context.Context, data string, inj *faults.Injector, o *options, logger *log.Logger) (*remoteSetup, string, func(), error) {
	dir := filepath.Join(data, "vrchat")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", nil, err
	}
	srv, err := vrchattest.New(vrchattest.Options{DataDir: dir, Faults: inj})
	if err != nil {
		return nil, "", nil, fmt.Errorf("starting the VRChat emulator: %w", err)
	}
	user, err := vrchattest.SeedDemo(srv)
	if err != nil {
		srv.Close()
		return nil, "", nil, fmt.Errorf("seeding the VRChat emulator: %w", err)
	}
	auth, twoFA := srv.NewSession(user)
	vr, err := connectVRChat(ctx, srv.URL(), vrchat.Cookies{Auth: auth, TwoFactorAuth: twoFA}, o, logger)
	if err != nil {
		srv.Close()
		return nil, "", nil, err
	}
	return vr, srv.URL(), srv.Close, nil
}
