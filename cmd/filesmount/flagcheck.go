package main

import (
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/pflag"
)

// Ranges of the flags. checkFlags enforces them before any request and
// before any file is created, so that a typo costs one line instead of a
// mount that misbehaves later (or a panic: --block-size 0 divided by zero).
const (
	// Kernel reads are page-aligned, power-of-two sized and at most 1 MiB
	// (fs.Mount's max_read). Blocks of a power of two from a page up never
	// split an aligned read across more blocks than its size needs.
	minBlockSize = 4 << 10
	// Go's memory limit is --cache-size plus 48 MiB for what is in flight
	// (cache.Options.MemoryLimit), which includes a block buffer per fetch:
	// the cache runs up to 4 read-ahead fetches besides the reads waiting.
	// Above 8 MiB those alone overrun it, and every random 4 KiB read
	// already downloads a whole block.
	maxBlockSize = 8 << 20
	// Read-ahead may use a quarter of the cache (cache/readahead.go) and
	// needs a window of 2 blocks to fetch anything beyond the block read:
	// with fewer than 8 blocks, sequential reads go one block at a time.
	minCacheBlocks = 8
	// Each expiry lists the directory again: CBRAIN pages through every
	// userfile of the provider, and VRChat rate-limits clients that ask
	// too often. fs.Options also reads 0 as its 60 s default.
	minMetadataTTL = time.Second
	// A sync from a remote data provider takes seconds at best; the
	// client also reads 0 as its default.
	minSyncTimeout = time.Second
)

// checkFlags checks the value of every flag f defines, and the
// combinations the cache and the mount need, and says what is wrong in
// terms of flags. mountpoint is "" for commands that do not mount. It
// makes no request and changes nothing (it reads /etc/fuse.conf and
// resolves paths).
func checkFlags(f *pflag.FlagSet, o *options, mountpoint string) error {
	for _, check := range []func(*pflag.FlagSet, *options) error{
		checkCacheFlags, checkTimeFlags, checkRemoteFlags, checkMountOptions,
	} {
		if err := check(f, o); err != nil {
			return err
		}
	}
	if mountpoint != "" && o.cacheDir != "" {
		if dir, mnt := resolvePath(o.cacheDir), resolvePath(mountpoint); within(dir, mnt) {
			return badFlag(f, "cache-dir", "must not be inside MOUNTPOINT %s: the daemon would stage files in its own mount", mountpoint)
		}
	}
	return nil
}

// badFlag is the one line for a bad value of flag name: the flag, its
// value as it stands, and what is accepted.
func badFlag(f *pflag.FlagSet, name, format string, args ...any) error {
	value := ""
	if fl := f.Lookup(name); fl != nil {
		value = " " + shown(fl.Value.String())
	}
	return invalidArg{"--" + name + value + ": " + fmt.Sprintf(format, args...)}
}

func checkCacheFlags(f *pflag.FlagSet, o *options) error {
	bs := int64(o.blockSize)
	if bs < minBlockSize || bs > maxBlockSize || bs&(bs-1) != 0 {
		return badFlag(f, "block-size", "must be a power of two from %s to %s", sizeText(minBlockSize), sizeText(maxBlockSize))
	}
	least := minCacheBlocks * bs
	mem := physicalMemory()
	if cs := int64(o.cacheSize); cs < least || (mem > 0 && cs > mem) {
		if mem > 0 {
			return badFlag(f, "cache-size", "must be from %d × --block-size (%s) to this machine's memory (%s)",
				minCacheBlocks, sizeText(least), sizeText(mem))
		}
		return badFlag(f, "cache-size", "must be at least %d × --block-size (%s)", minCacheBlocks, sizeText(least))
	}
	// Any --spool-size works: it only bounds finished downloads kept.
	if f.Changed("cache-dir") && strings.TrimSpace(o.cacheDir) == "" {
		return badFlag(f, "cache-dir", "must name a directory")
	}
	return nil
}

func checkTimeFlags(f *pflag.FlagSet, o *options) error {
	if o.metadataTTL < minMetadataTTL {
		return badFlag(f, "metadata-ttl", "must be at least %v", minMetadataTTL)
	}
	if o.attrTimeout < 0 || o.attrTimeout > o.metadataTTL {
		// Longer, the kernel would hide for longer what a new listing shows.
		return badFlag(f, "attr-timeout", "must be from 0s to --metadata-ttl (%v)", o.metadataTTL)
	}
	if o.syncTimeout < minSyncTimeout {
		return badFlag(f, "sync-timeout", "must be at least %v", minSyncTimeout)
	}
	return nil
}

// checkRemoteFlags checks the URLs before any credential goes to them,
// and refuses VRChat settings that would be ignored without --vrchat.
// URL messages never repeat the URL: it may hold a secret by mistake.
func checkRemoteFlags(f *pflag.FlagSet, o *options) error {
	for _, name := range []string{"cbrain-url", "vrchat-url"} {
		if !f.Changed(name) {
			continue
		}
		raw := f.Lookup(name).Value.String()
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return invalidArg{"--" + name + ": want a base URL such as https://host/path"}
		}
		if err := checkRemoteURL("--"+name, raw, o.allowInsecureHTTP); err != nil {
			return invalidArg{err.Error()}
		}
	}
	for _, name := range []string{"cbrain-token-file", "vrchat-session-file"} {
		if f.Changed(name) && f.Lookup(name).Value.String() == "" {
			return badFlag(f, name, "must name a file")
		}
	}
	for _, name := range []string{"vrchat-url", "vrchat-session-file", "vrchat-contact", "vrchat-rate"} {
		if f.Changed(name) && !o.vrchat {
			return invalidArg{"--" + name + ": has no effect without --vrchat"}
		}
	}
	if r := o.vrchatRate; f.Changed("vrchat-rate") && (!(r > 0) || math.IsInf(r, 0)) {
		return badFlag(f, "vrchat-rate", "must be a number of requests per second above 0")
	}
	if f.Changed("vrchat-contact") {
		// It goes in the User-Agent header, where a line break would be
		// refused by Go's HTTP client at the first request.
		c := o.vrchatContact
		if strings.TrimSpace(c) == "" || strings.IndexFunc(c, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
			return badFlag(f, "vrchat-contact", "must be an e-mail address or URL in printable characters")
		}
	}
	return nil
}

// resolvePath is p absolute, with the symbolic links of its longest
// existing prefix resolved, so that two spellings of one place compare
// equal even when the end of p does not exist yet.
func resolvePath(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	rest := ""
	for dir := abs; ; dir = filepath.Dir(dir) {
		if resolved, err := filepath.EvalSymlinks(dir); err == nil {
			return filepath.Join(resolved, rest)
		}
		if parent := filepath.Dir(dir); parent == dir {
			return abs
		}
		rest = filepath.Join(filepath.Base(dir), rest)
	}
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(os.PathSeparator))
}
