package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/filesmount/filesmount/cache"
	"github.com/filesmount/filesmount/fs"
	"github.com/filesmount/filesmount/remote/vrchat"
)

// options are the mount command's flags.
type options struct {
	cbrainURL         string
	cbrainTokenFile   string
	vrchat            bool
	vrchatURL         string
	vrchatContact     string
	vrchatSessionFile string
	vrchatRate        float64
	cacheSize         byteSize
	spoolSize         byteSize
	blockSize         byteSize
	cacheDir          string
	readOnly          bool
	allowOther        bool
	allowNonEmpty     bool
	allowInsecureHTTP bool
	debug             bool
	mountOpts         []string
	metadataTTL       time.Duration
	attrTimeout       time.Duration
	syncTimeout       time.Duration
}

// register adds every flag of a mount of real remotes.
func (o *options) register(f *pflag.FlagSet) {
	o.registerRemotes(f)
	o.registerMount(f)
}

// registerRemotes adds the flags that say which remotes to mount and how
// to reach them; the demo has its own emulators and takes none of them.
func (o *options) registerRemotes(f *pflag.FlagSet) {
	f.StringVar(&o.cbrainURL, "cbrain-url", "", "CBRAIN portal URL (default: the one saved by 'filesmount login cbrain')")
	f.StringVar(&o.cbrainTokenFile, "cbrain-token-file", "", "CBRAIN token file (default: <config dir>/filesmount/cbrain-token.json; CBRAIN_API_TOKEN overrides)")
	f.BoolVar(&o.vrchat, "vrchat", false, "mount VRChat files (after 'filesmount login vrchat')")
	f.StringVar(&o.vrchatURL, "vrchat-url", "", "VRChat API URL, with --vrchat (default: the one saved at login, else "+vrchat.DefaultURL+")")
	f.StringVar(&o.vrchatContact, "vrchat-contact", "", "contact (e-mail or URL) sent in the User-Agent VRChat requires, with --vrchat (default "+defaultContact+")")
	f.StringVar(&o.vrchatSessionFile, "vrchat-session-file", "", "VRChat session file, with --vrchat (default: <config dir>/filesmount/vrchat-session.json)")
	f.Float64Var(&o.vrchatRate, "vrchat-rate", vrchat.DefaultRate, "most requests per second to the VRChat API, with --vrchat (bursts of twice as many; a 429 answer still backs off the whole remote)")
	f.BoolVar(&o.allowInsecureHTTP, "allow-insecure-http", false, "accept plain http:// remote URLs that are not loopback addresses (credentials travel unencrypted)")
}

// registerMount adds the flags of the cache and the mount itself. The
// ranges in the help are those checkFlags enforces.
func (o *options) registerMount(f *pflag.FlagSet) {
	o.cacheSize = 256 << 20
	f.Var(&o.cacheSize, "cache-size", fmt.Sprintf("memory for cached blocks (e.g. 256M, 1G); at least %d × --block-size, at most the machine's memory", minCacheBlocks))
	o.spoolSize = 8 << 30
	f.Var(&o.spoolSize, "spool-size", "disk for whole-file downloads of remotes without HTTP Range (CBRAIN); 0 keeps none once closed")
	o.blockSize = 256 << 10
	f.Var(&o.blockSize, "block-size", fmt.Sprintf("size of cached blocks: a power of two from %s to %s", sizeText(minBlockSize), sizeText(maxBlockSize)))
	f.StringVar(&o.cacheDir, "cache-dir", defaultCacheDir(), "directory for spooled downloads, staged writes, the upload journal and the recovery folder (0700); not inside MOUNTPOINT")
	f.BoolVar(&o.readOnly, "read-only", false, "refuse all changes (EROFS)")
	f.BoolVar(&o.allowOther, "allow-other", false, "let other users access the mount, with the kernel's permission checks (needs user_allow_other in /etc/fuse.conf unless root)")
	f.BoolVar(&o.allowNonEmpty, "allow-non-empty", false, "mount even if MOUNTPOINT is not empty or is already a mount point, hiding what is there (never over another filesmount)")
	f.BoolVar(&o.debug, "debug", false, "log every FUSE request")
	f.StringSliceVarP(&o.mountOpts, "options", "o", nil, "extra mount options, comma-separated: "+strings.Join(mountOptionNames(), ", "))
	f.DurationVar(&o.metadataTTL, "metadata-ttl", 60*time.Second, fmt.Sprintf("how long a directory listing is reused before asking the remote again; at least %v", minMetadataTTL))
	f.DurationVar(&o.attrTimeout, "attr-timeout", time.Second, "how long the kernel caches attributes and names; from 0s (no caching) to --metadata-ttl")
	f.DurationVar(&o.syncTimeout, "sync-timeout", 2*time.Minute, fmt.Sprintf("how long a read waits for CBRAIN to sync a file from a remote data provider; at least %v", minSyncTimeout))
}

func defaultCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "filesmount")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("filesmount-%d", os.Getuid()))
}

func usage(f *pflag.FlagSet) func() {
	return func() {
		fmt.Fprintf(os.Stderr, `Usage:
  filesmount [flags] MOUNTPOINT        mount the configured remotes at MOUNTPOINT
  filesmount login cbrain --url URL    log in to a CBRAIN portal and save the token
  filesmount login vrchat              log in to VRChat (with 2FA) and save the session cookies
  filesmount demo [MOUNTPOINT]         mount built-in emulators with sample data (default ./mnt)
  filesmount cbrain compress|uncompress|sync PATH...
                                       run a CBRAIN operation on mounted userfiles and report each outcome

Flags:
%s`, f.FlagUsages())
	}
}

func runMount(args []string) error {
	var o options
	f := pflag.NewFlagSet("filesmount", pflag.ContinueOnError)
	o.register(f)
	f.Usage = usage(f)
	if err := parseFlags(f, args); err != nil {
		return err
	}
	if f.NArg() != 1 {
		return usageError{"expected exactly one MOUNTPOINT argument"}
	}
	dir := f.Arg(0)
	// Everything the command line says is checked before any request and
	// before the cache dir is created: flags, then MOUNTPOINT, then the
	// credential files.
	o.foldMountOptions()
	if err := checkFlags(f, &o, dir); err != nil {
		return err
	}
	if err := checkMountpoint(dir, o.allowNonEmpty); err != nil {
		return err
	}
	cb, err := cbrainFromFlags(&o)
	if err != nil {
		return err
	}
	vr, err := vrchatFromFlags(&o)
	if err != nil {
		return err
	}
	if cb == nil && vr == nil {
		return usageError{"no remote configured: log in with 'filesmount login cbrain --url URL' or 'filesmount login vrchat', or set CBRAIN_API_TOKEN, then pass --cbrain-url and/or --vrchat"}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := log.New(os.Stderr, "filesmount: ", log.LstdFlags)
	release, err := openCacheDir(o.cacheDir, logger)
	if err != nil {
		return err
	}
	defer release()

	var backends []remoteSetup
	if cb != nil {
		s, err := connectCBRAIN(ctx, *cb, &o, logger)
		if err != nil {
			return err
		}
		backends = append(backends, *s)
	}
	if vr != nil {
		s, err := connectVRChat(ctx, vr.url, vr.cookies, &o, logger)
		if err != nil {
			return err
		}
		backends = append(backends, *s)
	}
	return serve(ctx, dir, &o, logger, backends)
}

// serve mounts the backends at dir and blocks until ctx is cancelled (a
// signal), then unmounts. The caller has checked the flags and dir, and
// holds the cache dir (openCacheDir).
func serve(ctx context.Context, dir string, o *options, logger *log.Logger, setups []remoteSetup) error {
	startProfiler(logger)
	// The daemon context outlives every FUSE request: shared fetches run on it.
	daemonCtx, cancelDaemon := context.WithCancel(context.Background())
	defer cancelDaemon()
	copts := cache.Options{
		BlockSize: int64(o.blockSize),
		// Small blocks keep random reads cheap; sequential reads still
		// fetch up to 8 MiB ahead, in few requests.
		MaxReadAhead:  int(max(8, (8<<20)/int64(o.blockSize))),
		MaxBytes:      int64(o.cacheSize),
		Dir:           filepath.Join(o.cacheDir, fmt.Sprintf("spool-%d", os.Getpid())),
		MaxSpoolBytes: int64(orSmallest(o.spoolSize)),
		Logger:        logger,
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// Memory follows --cache-size, not the size of the files read.
		debug.SetMemoryLimit(copts.MemoryLimit())
	}
	c, err := cache.New(daemonCtx, copts)
	if err != nil {
		return err
	}
	defer c.Close()
	var backends []fs.Backend
	var names []string
	for _, s := range setups {
		cs := c.Wrap(s.store)
		backends = append(backends, fs.Backend{Store: cs, Reader: cs, Writer: cs.Writer()})
		names = append(names, s.store.Name())
	}
	root, err := fs.NewRoot(backends, fs.Options{MetadataTTL: o.metadataTTL, Logger: logger,
		UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), CacheDir: o.cacheDir, ReadOnly: o.readOnly})
	if err != nil {
		return err
	}
	// -o allow_other and nonempty are flags by now (foldMountOptions).
	mountOpts, allowOther := o.mountOpts, o.allowOther
	if o.readOnly {
		mountOpts = append([]string{"ro"}, mountOpts...)
	}
	server, err := fs.Mount(dir, root, fs.MountConfig{
		AttrTimeout: orSmallest(o.attrTimeout), EntryTimeout: orSmallest(o.attrTimeout),
		AllowOther: allowOther, Debug: o.debug, Options: mountOpts,
		FsName: "filesmount:" + strings.Join(names, "+"), Logger: logger,
	})
	if err != nil {
		return err
	}
	logger.Printf("mounted %s at %s; press Ctrl-C (or send SIGTERM) to unmount", strings.Join(names, ", "), dir)
	// Uploads a previous daemon left unfinished (see the journal).
	go root.ResumeUploads(daemonCtx)
	defer root.HandBackLocal()
	done := make(chan struct{})
	go func() { server.Wait(); close(done) }()
	select {
	case <-done:
		logger.Printf("%s was unmounted", dir)
		return nil
	case <-ctx.Done():
	}
	// A second signal now gets the default behaviour (exit), in case
	// unmounting hangs.
	signal.Reset(os.Interrupt, syscall.SIGTERM)
	if p := root.PendingUploads(); len(p) > 0 {
		logger.Printf("waiting for %d upload(s) to finish before unmounting: %s", len(p), strings.Join(p, ", "))
		root.WaitUploads()
	}
	for {
		err := server.Unmount()
		if err == nil {
			break
		}
		logger.Printf("unmount %s: %v; close the files and shells using it (retrying, Ctrl-C again to force)", dir, err)
		select {
		case <-done:
			return nil
		case <-time.After(2 * time.Second):
		}
	}
	<-done
	logger.Printf("unmounted %s", dir)
	return nil
}

// orSmallest turns a user's 0 ("none": keep no finished download, let the
// kernel cache nothing) into the smallest positive value, because
// cache.Options and fs.MountConfig read 0 as "the default" (8 GiB, 1 s).
// One byte keeps no spool; one nanosecond is a jiffy to the kernel.
func orSmallest[T ~int64](v T) T {
	if v == 0 {
		return 1
	}
	return v
}
