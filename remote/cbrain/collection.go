package cbrain

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/filesmount/filesmount/remote"
)

// DefaultFailureTTL is Store.FailureTTL's default, the mount's default
// --metadata-ttl.
const DefaultFailureTTL = 60 * time.Second

// collections is what a Store knows about FileCollections, so that
// listing one never makes the portal file an error report in normal use
// (collection_viewer.go says why a refused listing does):
//
//   - A collection is synced (sync_multiple, its background activity
//     followed) before the viewer is asked, unless it is known to be in
//     the portal's cache: listed or synced by this Store, or on a provider
//     the portal syncs inline (is_fast_syncing: the viewer's condition
//     is_locally_synced? syncs it). If the cache has dropped a collection
//     known to be there, the one refused ask is followed by a sync.
//   - A failed listing is kept for FailureTTL: every listing until then
//     fails at once with the same error, and the portal is not asked.
//   - A collection on a provider the portal listed as offline fails at
//     once: a sync or a viewer would only fail on the portal.
type collections struct {
	mu       sync.Mutex             // protects the maps below
	synced   map[int64]bool         // collection id -> known to be in the portal's cache
	failed   map[int64]keptFailure  // collection id -> its last failure, while kept
	provider map[int64]int64        // collection id -> its data provider, from provider listings
	dps      map[int64]DataProvider // data providers, from the last providers listing

	flight singleflight.Group // one listing per collection at a time
}

type keptFailure struct {
	err error
	at  time.Time
}

// noteProviders records the providers the portal listed.
func (cs *collections) noteProviders(dps []DataProvider) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.dps = make(map[int64]DataProvider, len(dps))
	for _, dp := range dps {
		cs.dps[dp.ID] = dp
	}
}

// noteUserfiles records which provider each listed collection is on.
func (cs *collections) noteUserfiles(files []Userfile) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.provider == nil {
		cs.provider = map[int64]int64{}
	}
	for i := range files {
		if isCollectionType(files[i].Type) {
			cs.provider[files[i].ID] = files[i].DataProviderID
		}
	}
}

// plan says how to list collection id: fail at once (a kept failure, an
// offline provider), or ask the viewer directly (known to be synced).
func (cs *collections) plan(id int64, now time.Time, ttl time.Duration) (direct bool, err error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if f, ok := cs.failed[id]; ok {
		if until := f.at.Add(ttl); now.Before(until) {
			return false, fmt.Errorf("%w (kept: the portal is not asked again about this collection before %s)",
				f.err, until.Format("15:04:05"))
		}
		delete(cs.failed, id)
	}
	dp, known := cs.dps[cs.provider[id]]
	if known && !dp.Online {
		return false, fmt.Errorf("cbrain: list collection %d: its data provider %q is offline (as the portal lists it): %w",
			id, dp.Name, remote.ErrUnavailable)
	}
	return cs.synced[id] || (known && dp.IsFastSyncing), nil
}

func (cs *collections) setSynced(id int64, v bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.synced == nil {
		cs.synced = map[int64]bool{}
	}
	if v {
		cs.synced[id] = true
	} else {
		delete(cs.synced, id)
	}
}

// keep records a failure. The caller's own cancellation is not the
// portal's failure and is not kept.
func (cs *collections) keep(id int64, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.failed == nil {
		cs.failed = map[int64]keptFailure{}
	}
	cs.failed[id] = keptFailure{err: err, at: time.Now()}
}

func (s *Store) failureTTL() time.Duration {
	if s.FailureTTL > 0 {
		return s.FailureTTL
	}
	return DefaultFailureTTL
}

// collectionFiles lists collection id (see collections). Callers for one
// collection (its directory and its subdirectories) share one listing.
func (s *Store) collectionFiles(ctx context.Context, id int64) ([]FileInfo, error) {
	direct, err := s.colls.plan(id, time.Now(), s.failureTTL())
	if err != nil {
		return nil, err
	}
	v, err, _ := s.colls.flight.Do(strconv.FormatInt(id, 10), func() (any, error) {
		files, err := s.fetchCollection(ctx, id, direct)
		if err != nil {
			s.colls.keep(id, err)
		}
		return files, err
	})
	if err != nil {
		return nil, err
	}
	return v.([]FileInfo), nil
}

func (s *Store) fetchCollection(ctx context.Context, id int64, direct bool) ([]FileInfo, error) {
	if direct {
		files, err := s.c.CollectionFiles(ctx, id)
		if err == nil {
			return files, nil
		}
		if !errors.Is(err, errViewerRefused) {
			return nil, err
		}
		// The portal's cache dropped it (or cannot sync it inline): that
		// ask cost one report on the portal; sync, then ask again.
		s.colls.setSynced(id, false)
	}
	if err := s.syncCollection(ctx, id); err != nil {
		return nil, err
	}
	files, err := s.c.CollectionFiles(ctx, id)
	if errors.Is(err, errViewerRefused) {
		return nil, fmt.Errorf("%w; it was refused right after the portal reported the collection synced", err)
	}
	return files, err
}

// syncCollection asks the portal to sync collection id into its cache and
// follows the background activity, for at most SyncTimeout. Readers of
// its members and listings share one sync (the key of waitSynced).
func (s *Store) syncCollection(ctx context.Context, id int64) error {
	c := s.c
	ch := c.syncs.g.DoChan(strconv.FormatInt(id, 10), func() (any, error) {
		// Detached from the caller: other readers may be waiting on it.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.SyncTimeout)
		defer cancel()
		res, err := c.Sync(sctx, id)
		if err != nil {
			return nil, fmt.Errorf("cbrain: sync collection %d into the portal's cache: %w", id, err)
		}
		if len(res) != 1 || !res[0].OK {
			msg := "not processed"
			if len(res) == 1 && res[0].Message != "" {
				msg = res[0].Message
			}
			return nil, fmt.Errorf("cbrain: sync collection %d into the portal's cache: the portal could not sync it from its data provider: %s: %w",
				id, msg, remote.ErrUnavailable)
		}
		return nil, nil
	})
	select {
	case <-ctx.Done():
		return ctx.Err()
	case res := <-ch:
		if res.Err == nil {
			s.colls.setSynced(id, true)
		}
		return res.Err
	}
}

// listCollection lists the direct children of dirPath inside collection
// id. dirPath starts with the collection's name, as the portal's paths
// do. The listing holds regular files only, so directories are the
// paths' prefixes: an empty directory is not shown.
func (s *Store) listCollection(ctx context.Context, id int64, dirPath string) ([]remote.Entry, error) {
	files, err := s.collectionFiles(ctx, id)
	if err != nil {
		return nil, err
	}
	s.colls.setSynced(id, true)
	type child struct {
		entry remote.Entry
		dir   bool
	}
	children := map[string]*child{}
	var order []string
	for _, f := range files {
		p := strings.Trim(path.Clean("/"+f.Name), "/")
		name, ok := childComponent(dirPath, p)
		if !ok {
			continue
		}
		isDir := path.Join(dirPath, name) != p || f.SymbolicType == "directory"
		c, seen := children[name]
		if !seen {
			c = &child{entry: remote.Entry{
				ID:      fmt.Sprintf("cf/%d/%s", id, path.Join(dirPath, name)),
				Name:    name,
				ModTime: ModTime,
			}}
			children[name] = c
			order = append(order, name)
		}
		if isDir {
			c.dir = true
		} else if f.Size != nil {
			c.entry.Size = *f.Size
		}
		if path.Join(dirPath, name) == p && !f.Mtime.IsZero() {
			// The member's own mtime: the only real time the API gives.
			c.entry.ModTime = f.Mtime.Time
		}
	}
	sort.Strings(order)
	out := make([]remote.Entry, 0, len(order))
	for _, name := range order {
		c := children[name]
		c.entry.IsDir = c.dir
		if c.dir {
			c.entry.Size = 0
			c.entry.ModTime = ModTime
		}
		c.entry.Version = "size:" + strconv.FormatInt(c.entry.Size, 10)
		if !c.entry.ModTime.Equal(ModTime) {
			// Content rewritten at the same size changes the mtime.
			c.entry.Version += " mtime:" + strconv.FormatInt(c.entry.ModTime.UnixNano(), 10)
		}
		out = append(out, c.entry)
	}
	return out, nil
}
