package cbrain

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/filesmount/filesmount/remote"
)

// ModTime is the modification time shown for CBRAIN entries the API gives
// no time for: userfiles, data providers and directories (userfile JSON
// has no timestamps). Any "real" time would be invented; a fixed,
// documented instant keeps mtimes stable across listings and mounts, which
// is what rsync and make need to behave deterministically. Members of a
// FileCollection carry their own mtime in the collection's file list. The
// filesystem shows the times users set instead (fs/times.go).
var ModTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Store adapts a Client to remote.Store. Layout:
//
//	/                       one directory per data provider
//	/<provider>/            its userfiles (browse_path components become directories)
//	/<provider>/<coll>/     a FileCollection's files, read with content_loader=collection_file
type Store struct {
	c      *Client
	ranges rangeState
	colls  collections // FileCollection listing state (collection.go)

	// FailureTTL is how long a failed collection listing is kept and
	// answered without asking the portal again (0: DefaultFailureTTL).
	// The mount sets it to its --metadata-ttl.
	FailureTTL time.Duration
}

// NewStore returns the remote.Store view of c.
func NewStore(c *Client) *Store { return &Store{c: c} }

var _ remote.Store = (*Store)(nil)

// Entry IDs: "/", "dp/<id>", "bp/<dpid>/<browse path>", "uf/<id>",
// "cf/<collection id>/<path starting with the collection name>".

func (s *Store) Name() string { return "cbrain" }

func (s *Store) Caps() remote.Caps {
	return remote.Caps{RangeReads: s.ranges.honoured.Load() == 1}
}

func (s *Store) Root(context.Context) (remote.Entry, error) {
	return remote.Entry{ID: "/", Name: "cbrain", IsDir: true, ModTime: ModTime, Size: 0}, nil
}

func (s *Store) List(ctx context.Context, dir remote.Entry) ([]remote.Entry, error) {
	kind, rest, _ := strings.Cut(dir.ID, "/")
	switch {
	case dir.ID == "/":
		return s.listProviders(ctx)
	case kind == "dp":
		dpID, err := strconv.ParseInt(rest, 10, 64)
		if err != nil {
			return nil, badID(dir.ID)
		}
		return s.listProvider(ctx, dpID, "")
	case kind == "bp":
		dp, bp, _ := strings.Cut(rest, "/")
		dpID, err := strconv.ParseInt(dp, 10, 64)
		if err != nil {
			return nil, badID(dir.ID)
		}
		return s.listProvider(ctx, dpID, bp)
	case kind == "uf":
		id, err := strconv.ParseInt(rest, 10, 64)
		if err != nil {
			return nil, badID(dir.ID)
		}
		return s.listCollection(ctx, id, dir.Name)
	case kind == "cf":
		id, p, err := parseMemberID(rest)
		if err != nil {
			return nil, err
		}
		return s.listCollection(ctx, id, p)
	}
	return nil, badID(dir.ID)
}

func badID(id string) error {
	return fmt.Errorf("cbrain: malformed entry id %q: %w", id, remote.ErrNotFound)
}

func parseMemberID(rest string) (int64, string, error) {
	idStr, p, _ := strings.Cut(rest, "/")
	id, err := strconv.ParseInt(idStr, 10, 64)
	if err != nil || p == "" {
		return 0, "", badID("cf/" + rest)
	}
	return id, p, nil
}

func (s *Store) listProviders(ctx context.Context) ([]remote.Entry, error) {
	dps, err := s.c.DataProviders(ctx)
	if err != nil {
		return nil, err
	}
	s.colls.noteProviders(dps)
	out := make([]remote.Entry, 0, len(dps))
	for _, dp := range dps {
		out = append(out, remote.Entry{
			ID: "dp/" + strconv.FormatInt(dp.ID, 10), Name: dp.Name, IsDir: true,
			ModTime: ModTime, ReadOnly: dp.ReadOnly,
		})
	}
	return out, nil
}

// listProvider lists the userfiles of one provider whose browse_path is
// bp; deeper browse paths appear as directories. One paged listing per
// call, filtered by the portal.
func (s *Store) listProvider(ctx context.Context, dpID int64, bp string) ([]remote.Entry, error) {
	files, err := s.c.Userfiles(ctx, url.Values{"data_provider_id": {strconv.FormatInt(dpID, 10)}})
	if err != nil {
		return nil, err
	}
	s.colls.noteUserfiles(files)
	var out []remote.Entry
	subdirs := map[string]bool{}
	for i := range files {
		uf := &files[i]
		fileBP := ""
		if uf.BrowsePath != nil {
			fileBP = strings.Trim(*uf.BrowsePath, "/")
		}
		if fileBP == bp {
			out = append(out, userfileEntry(uf))
			continue
		}
		if sub, ok := childComponent(bp, fileBP); ok && !subdirs[sub] {
			subdirs[sub] = true
			out = append(out, remote.Entry{
				ID:   fmt.Sprintf("bp/%d/%s", dpID, path.Join(bp, sub)),
				Name: sub, IsDir: true, ModTime: ModTime,
			})
		}
	}
	return out, nil
}

// childComponent returns the first component of p below dir, if p is
// strictly below dir ("" is the top).
func childComponent(dir, p string) (string, bool) {
	if dir != "" {
		var ok bool
		if p, ok = strings.CutPrefix(p, dir+"/"); !ok {
			return "", false
		}
	}
	if p == "" {
		return "", false
	}
	first, _, _ := strings.Cut(p, "/")
	return first, true
}

func userfileEntry(uf *Userfile) remote.Entry {
	e := remote.Entry{
		ID:       "uf/" + strconv.FormatInt(uf.ID, 10),
		Name:     uf.Name,
		IsDir:    isCollectionType(uf.Type),
		Size:     remote.SizeUnknown,
		ModTime:  ModTime,
		ReadOnly: uf.Immutable,
	}
	if uf.Size != nil {
		e.Size = *uf.Size
	}
	// No ETag, no mtime: the size is the only change signal the API gives.
	e.Version = "size:" + strconv.FormatInt(e.Size, 10)
	if e.IsDir {
		e.Size = 0
	}
	return e
}

func (s *Store) Stat(ctx context.Context, e remote.Entry) (remote.Entry, error) {
	kind, rest, _ := strings.Cut(e.ID, "/")
	if kind != "uf" {
		return e, nil // only userfiles have a "show" endpoint
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	if err != nil {
		return remote.Entry{}, badID(e.ID)
	}
	uf, err := s.c.Userfile(ctx, id)
	if err != nil {
		return remote.Entry{}, err
	}
	return userfileEntry(uf), nil
}

func (s *Store) Open(ctx context.Context, e remote.Entry, off, length int64) (*remote.Body, error) {
	cr, err := s.contentRequestFor(e)
	if err != nil {
		return nil, err
	}
	if s.ranges.honoured.Load() < 0 && off == 0 {
		length = -1 // known to ignore ranges: don't pretend
	}
	b, err := s.c.openContent(ctx, cr, off, length)
	if err != nil {
		return nil, err
	}
	if off > 0 || length > 0 {
		if b.Ranged {
			s.ranges.honoured.Store(1)
		} else {
			s.ranges.honoured.Store(-1)
		}
	}
	return b, nil
}

func (s *Store) contentRequestFor(e remote.Entry) (contentRequest, error) {
	kind, rest, _ := strings.Cut(e.ID, "/")
	switch kind {
	case "uf":
		id, err := strconv.ParseInt(rest, 10, 64)
		if err != nil || e.IsDir {
			break
		}
		return contentRequest{userfileID: id, path: fmt.Sprintf("/userfiles/%d/content", id),
			what: fmt.Sprintf("userfile %d %q", id, e.Name)}, nil
	case "cf":
		id, p, err := parseMemberID(rest)
		if err != nil {
			return contentRequest{}, err
		}
		return contentRequest{userfileID: id, path: fmt.Sprintf("/userfiles/%d/content", id),
			query: url.Values{"content_loader": {"collection_file"}, "arguments": {p}},
			what:  fmt.Sprintf("collection %d member %q", id, p),
			// collection_file reads the portal's cache only: a 404 leads
			// to the collection's sync (collection.go).
			sync: func(ctx context.Context) error { return s.syncCollection(ctx, id) }}, nil
	}
	return contentRequest{}, fmt.Errorf("cbrain: %q is not a readable file: %w", e.Name, remote.ErrInvalid)
}
