package cbrain

import (
	"encoding/json"
	"math"
	"net/netip"
	"time"
)

// Userfile is the portal's userfile object (the 15 whitelisted attributes,
// plus tags when the file has any). There are no timestamps.
type Userfile struct {
	ID             int64   `json:"id"`
	Name           string  `json:"name"`
	BrowsePath     *string `json:"browse_path"`
	Size           *int64  `json:"size"` // null while an upload or sync is processed
	UserID         int64   `json:"user_id"`
	ParentID       *int64  `json:"parent_id"`
	Type           string  `json:"type"`
	GroupID        int64   `json:"group_id"`
	DataProviderID int64   `json:"data_provider_id"`
	GroupWritable  bool    `json:"group_writable"`
	NumFiles       *int64  `json:"num_files"`
	Hidden         bool    `json:"hidden"`
	Immutable      bool    `json:"immutable"`
	Archived       bool    `json:"archived"`
	Description    *string `json:"description"`
	TagIDs         []int64 `json:"tag_ids,omitempty"`

	browsePathSent bool // the JSON had a browse_path key (release.go)
}

// DataProvider is the portal's data provider object.
type DataProvider struct {
	ID                   int64  `json:"id"`
	Name                 string `json:"name"`
	Type                 string `json:"type"`
	Online               bool   `json:"online"`
	ReadOnly             bool   `json:"read_only"`
	IsFastSyncing        bool   `json:"is_fast_syncing"`
	ContentStorageShared bool   `json:"content_storage_shared_between_users"`
}

// FileInfo is one entry of a FileCollection's file list. Name is the path
// inside the collection, starting with the collection's own name.
type FileInfo struct {
	Name         string     `json:"name"`
	SymbolicType string     `json:"symbolic_type"` // "regular", "directory", "symlink"
	Size         *int64     `json:"size"`
	Mtime        portalTime `json:"mtime"` // zero if absent or unreadable
}

// portalTime is a time in the portal's JSON. A collection's file list
// holds the Ruby Time values of File.lstat (data_provider.rb,
// cache_collection_index), which Rails renders as ISO 8601 strings with
// milliseconds and the portal's UTC offset ("2026-03-01T12:00:00.000-05:00",
// ActiveSupport's Time#as_json); the provider-side listings document epoch
// seconds instead (data_provider.rb, provider_list_all). Both are read;
// anything else is no time rather than a failed listing, since a time is
// never worth losing the files for.
type portalTime struct{ time.Time }

func (t *portalTime) UnmarshalJSON(b []byte) error {
	t.Time = time.Time{}
	var s string
	if json.Unmarshal(b, &s) == nil {
		if p, err := time.Parse(time.RFC3339Nano, s); err == nil {
			t.Time = p
		}
		return nil
	}
	var secs float64
	// Up to year 5138: beyond is not a file time.
	if json.Unmarshal(b, &secs) == nil && secs > 0 && secs < 1e11 {
		whole, frac := math.Modf(secs)
		t.Time = time.Unix(int64(whole), int64(frac*1e9))
	}
	return nil
}

// Session is the answer of GET/POST /session.
type Session struct {
	UserID int64  `json:"user_id"`
	Token  string `json:"cbrain_api_token"`
	// LocalAddr is not part of the answer: Login sets it to the local
	// address the request left from, which the token is bound to.
	LocalAddr netip.Addr `json:"-"`
}

// BackgroundActivity is the portal's record of an asynchronous operation.
type BackgroundActivity struct {
	ID           int64  `json:"id"`
	Type         string `json:"type"`
	Status       string `json:"status"`
	Items        []any  `json:"items"`
	Messages     []any  `json:"messages"`
	NumSuccesses int64  `json:"num_successes"`
	NumFailures  int64  `json:"num_failures"`
}

// Finished reports whether the activity will not change any more.
func (b *BackgroundActivity) Finished() bool {
	switch b.Status {
	case "InProgress", "Scheduled", "Suspended", "SuspendedScheduled":
		return false
	}
	return true
}

// isCollectionType reports whether a userfile type is a FileCollection.
// The API gives only the class name, not its ancestry, so this relies on
// CBRAIN's naming: FileCollection and its plugin subclasses end in
// "Collection" (DicomCollection, ...); a few known ones do not.
func isCollectionType(t string) bool {
	switch t {
	case "FileCollection", "CivetOutput", "FmriStudy", "NiakOutput", "BidsSubject", "BidsDataset":
		return true
	}
	return len(t) > len("Collection") && t[len(t)-len("Collection"):] == "Collection"
}
