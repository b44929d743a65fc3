package fs

import (
	"time"

	"github.com/filesmount/filesmount/remote"
)

// listing is an immutable snapshot of one directory: every child under its
// unique, valid name. It answers Lookup, Getattr and READDIRPLUS until it
// expires.
type listing struct {
	fetched time.Time
	entries []namedEntry // in the store's order
	byName  map[string]remote.Entry
	// links counts the names of each file whose remote ID is listed more
	// than once (VRChat's latest<ext> and the version it follows): they
	// are one inode, so st_nlink says how many names it has here, and du
	// and tar count it once. Nil when no ID repeats.
	links map[string]uint32
}

func newListing(entries []remote.Entry, now time.Time) *listing {
	named := uniqueNames(entries)
	l := &listing{fetched: now, entries: named, byName: make(map[string]remote.Entry, len(named))}
	seen := make(map[string]bool, len(named))
	for _, n := range named {
		l.byName[n.name] = n.entry
		if n.entry.IsDir {
			continue // a directory's nlink counts its subdirectories instead
		}
		if seen[n.entry.ID] {
			if l.links == nil {
				l.links = map[string]uint32{}
			}
			if l.links[n.entry.ID] == 0 {
				l.links[n.entry.ID] = 1
			}
			l.links[n.entry.ID]++
		}
		seen[n.entry.ID] = true
	}
	return l
}

// nlink is the number of names the file with remote ID id has in this
// directory: 1 unless the remote lists the object under several names.
func (l *listing) nlink(id string) uint32 {
	if l == nil || l.links[id] == 0 {
		return 1
	}
	return l.links[id]
}

func (l *listing) fresh(now time.Time, ttl time.Duration) bool {
	return l != nil && now.Sub(l.fetched) < ttl
}
