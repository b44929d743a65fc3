package main

import (
	"context"
	"fmt"
	"log"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/filesmount/filesmount/fs"
	"github.com/filesmount/filesmount/remote/cbrain"
)

// cbrainOps are the portal operations with no filesystem equivalent,
// reachable from the shell on mounted paths.
var cbrainOps = map[string]struct {
	run  func(c *cbrain.Client, ctx context.Context, ids ...int64) ([]cbrain.ItemResult, error)
	done string
}{
	"compress":   {(*cbrain.Client).Compress, "compressed"},
	"uncompress": {(*cbrain.Client).Uncompress, "uncompressed"},
	"sync":       {(*cbrain.Client).Sync, "synced to the portal's cache"},
}

// runCBRAIN: filesmount cbrain compress|uncompress|sync PATH...
func runCBRAIN(args []string) error {
	if len(args) == 0 {
		return usageError{"usage: filesmount cbrain compress|uncompress|sync PATH..."}
	}
	op, ok := cbrainOps[args[0]]
	if !ok {
		return usageError{fmt.Sprintf("unknown cbrain operation %q: want compress, uncompress or sync", args[0])}
	}
	var o options
	f := pflag.NewFlagSet("filesmount cbrain "+args[0], pflag.ContinueOnError)
	o.register(f)
	if err := parseFlags(f, args[1:]); err != nil {
		return err
	}
	if f.NArg() == 0 {
		return usageError{"no PATH given"}
	}
	if err := checkFlags(f, &o, ""); err != nil {
		return err
	}
	login, err := cbrainFromFlags(&o)
	if err != nil {
		return err
	}
	if login == nil {
		return usageError{"CBRAIN is not configured: run 'filesmount login cbrain --url URL' or set CBRAIN_API_TOKEN and --cbrain-url"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	quiet := log.New(os.Stderr, "filesmount: ", 0)
	setup, err := connectCBRAIN(ctx, *login, &o, log.New(nopWriter{}, "", 0))
	if err != nil {
		return err
	}
	client := setup.store.(*cbrain.Store).Client()
	ids, byID, err := resolveUserfiles(ctx, client, f.Args())
	if err != nil {
		return err
	}
	results, err := op.run(client, ctx, ids...)
	if err != nil {
		return err
	}
	failed := 0
	for _, r := range results {
		p := byID[r.ID]
		if r.OK {
			fmt.Printf("%s: %s\n", p, op.done)
		} else {
			failed++
			fmt.Printf("%s: not %s: %s\n", p, op.done, r.Message)
		}
		// Let the mount show the result (e.g. name.gz) at once.
		os.Stat(filepath.Join(filepath.Dir(p), fs.RefreshName))
	}
	if failed > 0 {
		quiet.Printf("%d of %d files failed", failed, len(results))
		return errSilent
	}
	return nil
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

// errSilent is a failure already reported on the output.
var errSilent = fmt.Errorf("operation failed")

// disambiguated matches the names the mount gives same-named userfiles:
// "<stem>~<id><extension>".
var disambiguated = regexp.MustCompile(`~([0-9]+)(\.|$)`)

// resolveUserfiles maps mounted paths MOUNT/cbrain/<provider>/<name> to
// userfile ids, asking the portal (the daemon keeps no index to share).
func resolveUserfiles(ctx context.Context, c *cbrain.Client, paths []string) ([]int64, map[int64]string, error) {
	dps, err := c.DataProviders(ctx)
	if err != nil {
		return nil, nil, err
	}
	var ids []int64
	byID := map[int64]string{}
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, nil, err
		}
		parts := strings.Split(filepath.ToSlash(abs), "/")
		i := len(parts) - 3
		if i < 0 || parts[i] != "cbrain" {
			return nil, nil, fmt.Errorf("%s: not a userfile of a mounted CBRAIN provider (want MOUNT/cbrain/PROVIDER/NAME)", p)
		}
		var dpID int64 = -1
		for _, dp := range dps {
			if dp.Name == parts[i+1] {
				dpID = dp.ID
			}
		}
		if dpID < 0 {
			return nil, nil, fmt.Errorf("%s: no data provider named %q", p, parts[i+1])
		}
		id, err := findUserfile(ctx, c, dpID, parts[i+2])
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p, err)
		}
		ids = append(ids, id)
		byID[id] = p
	}
	return ids, byID, nil
}

func findUserfile(ctx context.Context, c *cbrain.Client, dpID int64, name string) (int64, error) {
	files, err := c.Userfiles(ctx, url.Values{"data_provider_id": {strconv.FormatInt(dpID, 10)}, "name": {name}})
	if err != nil {
		return 0, err
	}
	var ids []int64
	for _, f := range files {
		if f.Name == name {
			ids = append(ids, f.ID)
		}
	}
	if len(ids) > 0 {
		sort.Slice(ids, func(a, b int) bool { return ids[a] < ids[b] })
		return ids[0], nil // the mount shows the smallest id under the plain name
	}
	if m := disambiguated.FindStringSubmatch(name); m != nil {
		id, _ := strconv.ParseInt(m[1], 10, 64)
		if uf, err := c.Userfile(ctx, id); err == nil && uf.DataProviderID == dpID {
			return id, nil
		}
	}
	return 0, fmt.Errorf("no userfile named %q on that provider", name)
}
