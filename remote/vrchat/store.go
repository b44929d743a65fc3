package vrchat

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/filesmount/filesmount/remote"
)

// Store adapts a Client to remote.Store. Layout:
//
//	/                    one directory per File (named after the File), and tags/
//	/<file>/             latest<ext>, then <n><ext> per readable version, newest first;
//	                     for avatars also <n>.analysis[.security|.standard].json
//	/tags/               one directory per tag
//	/tags/<tag>/<file>/  the Files with that tag (GET /files?tag=)
type Store struct {
	c         *Client
	downloads downloads
	w         writes // see write.go
}

// NewStore returns the remote.Store view of c.
func NewStore(c *Client) *Store { return &Store{c: c} }

var _ remote.Store = (*Store)(nil)

// Entry IDs: "/", "tags", "tag/<tag>", "f/<file id>", "tf/<tag>/<file id>",
// "v/<file id>/<version>", "a/<file id>/<version>/<variant>", and
// "newfile/<name>" for a directory made by Mkdir (see write.go).

// wellKnownTags are always offered under tags/, even before a File has
// them, because they are the ones VRChat's own image features use.
var wellKnownTags = []string{"emoji", "gallery", "icon", "sticker"}

func (s *Store) Name() string { return "vrchat" }

func (s *Store) Caps() remote.Caps { return remote.Caps{RangeReads: true, NoEmptyFiles: true} }

func (s *Store) Root(context.Context) (remote.Entry, error) {
	return remote.Entry{ID: "/", Name: "vrchat", IsDir: true}, nil
}

func (s *Store) List(ctx context.Context, dir remote.Entry) ([]remote.Entry, error) {
	kind, rest, _ := strings.Cut(dir.ID, "/")
	switch {
	case dir.ID == "/":
		return s.listFiles(ctx, "")
	case dir.ID == "tags":
		return s.listTags(ctx)
	case kind == "tag":
		return s.listFiles(ctx, rest)
	case kind == "f":
		return s.listVersions(ctx, rest)
	case kind == "tf":
		// "tf/<tag>/<file id>": a tag may contain '/', a file id never does.
		return s.listVersions(ctx, rest[strings.LastIndexByte(rest, '/')+1:])
	case kind == "newfile":
		return s.listNewFile(ctx, rest)
	}
	return nil, fmt.Errorf("vrchat: %q is not a directory: %w", dir.ID, remote.ErrNotFound)
}

func (s *Store) listFiles(ctx context.Context, tag string) ([]remote.Entry, error) {
	files, err := s.c.Files(ctx, tag)
	if err != nil {
		return nil, err
	}
	out := make([]remote.Entry, 0, len(files)+1)
	if tag == "" {
		out = append(out, remote.Entry{ID: "tags", Name: "tags", IsDir: true, ReadOnly: true})
	}
	for i := range files {
		s.w.noteExt(&files[i])
		e := fileEntry(&files[i])
		if tag != "" {
			e.ID = "tf/" + tag + "/" + files[i].ID // a distinct directory inode per view
		}
		out = append(out, e)
	}
	return out, nil
}

func fileEntry(f *File) remote.Entry {
	return remote.Entry{ID: "f/" + f.ID, Name: f.Name, IsDir: true, ModTime: newest(f)}
}

func newest(f *File) time.Time {
	var t time.Time
	for i := range f.Versions {
		if c := f.Versions[i].Created(); c.After(t) {
			t = c
		}
	}
	return t
}

func (s *Store) listTags(ctx context.Context) ([]remote.Entry, error) {
	files, err := s.c.Files(ctx, "")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, t := range wellKnownTags {
		seen[t] = true
	}
	for _, f := range files {
		for _, t := range f.Tags {
			seen[t] = true
		}
	}
	tags := make([]string, 0, len(seen))
	for t := range seen {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	out := make([]remote.Entry, 0, len(tags))
	for _, t := range tags {
		out = append(out, remote.Entry{ID: "tag/" + t, Name: t, IsDir: true})
	}
	return out, nil
}

// listVersions lists a File's readable versions, newest first, after a
// latest<ext> entry that is the same object as the newest one. Version 0
// (never any data), deleted versions and versions whose upload is not
// complete (waiting, queued, error) are not shown.
func (s *Store) listVersions(ctx context.Context, id string) ([]remote.Entry, error) {
	f, err := s.c.File(ctx, id)
	if err != nil {
		return nil, err
	}
	s.w.noteExt(f)
	s.downloads.refusals.noteKind(f)
	ext := f.ext()
	var out []remote.Entry
	for i := len(f.Versions) - 1; i >= 0; i-- {
		v := &f.Versions[i]
		if !v.Readable() {
			continue
		}
		e := versionEntry(f, v)
		if len(out) == 0 {
			latest := e
			latest.Name = "latest" + ext
			out = append(out, latest)
		}
		out = append(out, e)
		if f.isAvatar() {
			for _, variant := range AnalysisVariants {
				name := strconv.Itoa(v.Version) + ".analysis"
				if variant != "" {
					name += "." + variant
				}
				out = append(out, remote.Entry{
					ID:   fmt.Sprintf("a/%s/%d/%s", f.ID, v.Version, variant),
					Name: name + ".json", Size: remote.SizeUnknown, ModTime: e.ModTime,
					Dynamic: true, ReadOnly: true,
				})
			}
		}
	}
	return out, nil
}

func versionEntry(f *File, v *FileVersion) remote.Entry {
	return remote.Entry{
		ID:      fmt.Sprintf("v/%s/%d", f.ID, v.Version),
		Name:    strconv.Itoa(v.Version) + f.ext(),
		Size:    v.File.SizeInBytes,
		ModTime: v.Created(),
		// A version's content never changes, but a deleted newest version
		// n can be followed by a new version n with other content: the
		// creation time tells them apart.
		Version:   v.CreatedAt + " " + v.File.MD5,
		Immutable: true,
		// Writable: writing over a version adds a new version (write.go).
		MD5: md5Bytes(v.File.MD5),
	}
}

func (s *Store) Stat(ctx context.Context, e remote.Entry) (remote.Entry, error) {
	kind, rest, _ := strings.Cut(e.ID, "/")
	if kind != "f" {
		return e, nil
	}
	f, err := s.c.File(ctx, rest)
	if err != nil {
		return remote.Entry{}, err
	}
	return fileEntry(f), nil
}

func (s *Store) Open(ctx context.Context, e remote.Entry, off, length int64) (*remote.Body, error) {
	parts := strings.Split(e.ID, "/")
	switch {
	case len(parts) == 3 && parts[0] == "v":
		n, err := strconv.Atoi(parts[2])
		if err != nil {
			break
		}
		return s.c.openVersion(ctx, &s.downloads, parts[1], n, e.Name, off, length)
	case len(parts) == 4 && parts[0] == "a":
		n, err := strconv.Atoi(parts[2])
		if err != nil {
			break
		}
		return s.c.Analysis(ctx, parts[1], n, parts[3])
	}
	return nil, fmt.Errorf("vrchat: %q is not a readable file: %w", e.Name, remote.ErrInvalid)
}
