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
	// shared are the IDs listed under more than one name (VRChat's
	// latest<ext> and the version it follows).
	shared map[string]bool
}

func newListing(entries []remote.Entry, now time.Time) *listing {
	named := uniqueNames(entries)
	l := &listing{fetched: now, entries: named, byName: make(map[string]remote.Entry, len(named))}
	seen := make(map[string]bool, len(named))
	for _, n := range named {
		l.byName[n.name] = n.entry
		if seen[n.entry.ID] {
			if l.shared == nil {
				l.shared = map[string]bool{}
			}
			l.shared[n.entry.ID] = true
		}
		seen[n.entry.ID] = true
	}
	return l
}

func (l *listing) fresh(now time.Time, ttl time.Duration) bool {
	return l != nil && now.Sub(l.fetched) < ttl
}
