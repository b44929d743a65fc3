package cbrain

import (
	"encoding/json"
	"sync/atomic"
)

// Portals in service run either the current CBRAIN code or the latest
// release, 7.0.0 (2025-05-26), and nothing says which: the API has no
// version call. The client tells them apart by what the answers hold,
// and copes with both:
//
//   - 7.0.0's userfile JSON has no "browse_path" key (commit d5aa20d3f
//     added it to api_attr_visible in userfile.rb, after 7.0.0). Every
//     file of a MultiLevel provider is then listed at the provider's top
//     level, and a file found by name may sit in any subdirectory: when
//     several match, the newest (highest id) is the one an upload just
//     made.
//   - 7.0.0 answers a rename onto a taken name with an empty 200 and
//     changes nothing (commit 7a22de867 made it a 422): the GET that
//     confirms every rename catches it, as EEXIST (Client.rename).
//   - 7.0.0's userfile JSON has no tags (Userfile#for_api came later), so
//     a rename or an overwrite, which must send the file's tag_ids or lose
//     them, cannot keep them there. There is no way around it through the
//     API; SEMANTICS.md says so.

// PortalRelease is what the client has learned about the portal's release.
type PortalRelease int32

const (
	// ReleaseUnknown: no userfile seen yet.
	ReleaseUnknown PortalRelease = iota
	// ReleaseWithBrowsePath: the userfile JSON carries browse_path (the
	// current code).
	ReleaseWithBrowsePath
	// Release700: the userfile JSON has no browse_path key (7.0.0 or
	// older).
	Release700
)

func (r PortalRelease) String() string {
	switch r {
	case ReleaseWithBrowsePath:
		return "current (userfiles carry browse_path)"
	case Release700:
		return "7.0.0 or older (no browse_path)"
	}
	return "unknown"
}

// releaseState is the client's guess, updated by every userfile decoded.
// An atomic: listings on many goroutines update it.
type releaseState struct{ v atomic.Int32 }

func (s *releaseState) get() PortalRelease { return PortalRelease(s.v.Load()) }

// note records what uf's JSON said about the portal.
func (s *releaseState) note(uf *Userfile) {
	r := ReleaseWithBrowsePath
	if !uf.browsePathSent {
		r = Release700
	}
	if s.get() != r {
		s.v.Store(int32(r))
	}
}

// Release reports the portal's release as far as its answers tell.
func (c *Client) Release() PortalRelease { return c.release.get() }

// UnmarshalJSON decodes a userfile and records whether its JSON has a
// browse_path key at all (null is not absent: a file at the top of a
// MultiLevel provider, or on any other provider, has browse_path null on
// current portals).
func (u *Userfile) UnmarshalJSON(b []byte) error {
	type wire Userfile // the fields without this method
	var w struct {
		wire
		// Shadows wire.BrowsePath (the shallower field wins), so that an
		// absent key (nil) and null ("null") stay apart.
		BrowsePath json.RawMessage `json:"browse_path"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*u = Userfile(w.wire)
	u.BrowsePath = nil
	u.browsePathSent = w.BrowsePath != nil
	if u.browsePathSent && string(w.BrowsePath) != "null" {
		var bp string
		if err := json.Unmarshal(w.BrowsePath, &bp); err != nil {
			return err
		}
		u.BrowsePath = &bp
	}
	return nil
}

// newest returns the match with the highest id (ids grow with each new
// record), or nil.
func newest(files []Userfile, match func(*Userfile) bool) *Userfile {
	var best *Userfile
	for i := range files {
		if f := &files[i]; match(f) && (best == nil || f.ID > best.ID) {
			best = f
		}
	}
	return best
}
