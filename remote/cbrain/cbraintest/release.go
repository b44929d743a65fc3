package cbraintest

import (
	"fmt"
	"os"
)

// Release is the CBRAIN release the emulator plays. The default is the
// current code (aces/cbrain master); Release700 plays the latest tagged
// release, 7.0.0 (2025-05-26), which portals in service may still run.
//
// What differs, each read from aces/cbrain at tag 7.0.0 against HEAD:
//
//   - No browse_path in the userfile JSON: 7.0.0's
//     BrainPortal/app/models/userfile.rb lists api_attr_visible without
//     :browse_path; commit d5aa20d3f (2025-06-25, "Added 'browse_path' for
//     API get of userfile model") added it. The column exists in both, so
//     the browse_path filter of GET /userfiles still works.
//   - No tag_ids / tag_names in the userfile JSON: Userfile#for_api, which
//     merges them in, does not exist at 7.0.0 (userfile.rb, "API Support
//     Methods", added after the tag). The JSON is the plain
//     api_attr_visible slice (lib/cbrain_extensions/active_record_extensions/
//     api_attr_visible.rb, for_api). A client therefore cannot learn a
//     file's tags, and every PUT /userfiles/:id drops them
//     (set_tags_for_user with the tag_ids it could not send).
//   - A rename onto a taken name answers an empty 200 and does nothing:
//     7.0.0's UserfilesController#update ignores the false that
//     DataProvider#provider_rename returns when "target_exists"; commit
//     7a22de867 (2026-03-31, "Handle Userfile rename failures in
//     Controller #1436") turned it into a 422 on the name.
//   - name_like's % and _ are LIKE wildcards on 7.0.0 and plain characters
//     since (userfile.rb, scope :name_like).
//   - An illegal new name answers 422 {"name":["contains illegal
//     characters."]} alone (provider_rename's own error; the second
//     message is 7a22de867's).
//
// Everything else the emulator plays is the same in both.
type Release string

const (
	// ReleaseCurrent is aces/cbrain master (the default).
	ReleaseCurrent Release = "current"
	// Release700 is the 7.0.0 tag.
	Release700 Release = "7.0.0"
)

// ReleaseEnv names the environment variable that sets the release of
// every emulator whose Options.Release is empty, so that whole test
// packages can be run again against 7.0.0:
//
//	FILESMOUNT_CBRAIN_RELEASE=7.0.0 go test ./remote/cbrain/
const ReleaseEnv = "FILESMOUNT_CBRAIN_RELEASE"

// ReleaseFromEnv is the release ReleaseEnv asks for (ReleaseCurrent when
// unset). An unknown value is an error: a typo must not quietly test the
// default instead.
func ReleaseFromEnv() (Release, error) {
	return checkRelease(Release(os.Getenv(ReleaseEnv)))
}

func checkRelease(r Release) (Release, error) {
	switch r {
	case "", ReleaseCurrent:
		return ReleaseCurrent, nil
	case Release700:
		return Release700, nil
	}
	return "", fmt.Errorf("cbraintest: unknown CBRAIN release %q (Options.Release or %s): want %q or %q", r, ReleaseEnv, ReleaseCurrent, Release700)
}

// Release is the release s plays.
func (s *Server) Release() Release { return s.opts.Release }

// userfileJSON700 is the userfile JSON of 7.0.0: the api_attr_visible
// attributes of its userfile.rb, in that order, with the id in front
// (for_api slices the attributes hash, whose order is the table's column
// order; id comes first there). No browse_path, no tags.
type userfileJSON700 struct {
	ID             int     `json:"id"`
	Name           string  `json:"name"`
	Size           *int64  `json:"size"`
	UserID         int     `json:"user_id"`
	ParentID       *int    `json:"parent_id"`
	Type           string  `json:"type"`
	GroupID        int     `json:"group_id"`
	DataProviderID int     `json:"data_provider_id"`
	GroupWritable  bool    `json:"group_writable"`
	NumFiles       *int    `json:"num_files"`
	Hidden         bool    `json:"hidden"`
	Immutable      bool    `json:"immutable"`
	Archived       bool    `json:"archived"`
	Description    *string `json:"description"`
}

// userfileForAPI is what GET /userfiles and GET /userfiles/:id render for
// f under the release played (mu held).
func (s *Server) userfileForAPI(f *userfile) any {
	if s.opts.Release != Release700 {
		return s.forAPI(f)
	}
	return userfileJSON700{ID: f.id, Name: f.name, Size: f.size, UserID: f.userID, ParentID: f.parentID,
		Type: f.typ, GroupID: f.groupID, DataProviderID: f.dpID, GroupWritable: f.groupWritable,
		NumFiles: f.numFiles, Hidden: f.hidden, Immutable: f.immutable, Archived: f.archived,
		Description: f.description}
}

// nameLikeWildcards reports whether GET /userfiles?name_like= passes % and
// _ to MySQL's LIKE as wildcards: on 7.0.0 (userfile.rb, scope :name_like,
// "%#{n.strip}%"); the current code escapes them (ESCAPE '!'), so the
// value is a plain substring.
func (s *Server) nameLikeWildcards() bool { return s.opts.Release == Release700 }

// renameRefusedSilently reports whether a rename onto a taken name is
// answered with an empty 200 that changes nothing (7.0.0, see Release).
func (s *Server) renameRefusedSilently() bool { return s.opts.Release == Release700 }

// illegalRenameMessages is the 422's "name" list for an illegal new name.
func (s *Server) illegalRenameMessages() []string {
	if s.opts.Release == Release700 {
		return []string{"contains illegal characters."}
	}
	return []string{"contains illegal characters.", renameTaken}
}

// FileTagIDs returns the ids of a userfile's tags as the portal holds
// them, whatever its JSON shows (7.0.0 shows none). For tests.
func (s *Server) FileTagIDs(id int) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.st.files[id]; f != nil {
		return append([]int(nil), f.tagIDs...)
	}
	return nil
}
