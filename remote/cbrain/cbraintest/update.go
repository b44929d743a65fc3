package cbraintest

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

const renameTaken = "could not be changed on the storage provider. A file with that name likely already exists."

// PUT/PATCH /userfiles/:id (§5): empty 200 on success; attributes are
// saved before the rename, so a failed rename keeps them.
func (s *Server) hUserfileUpdate(c *call) {
	id, ok := strictID(c.id)
	s.mu.Lock()
	defer s.mu.Unlock()
	var f *userfile
	if ok {
		f = s.st.files[id]
	}
	if f == nil || !s.canWrite(c.uid, f) {
		c.notFound("Userfile", c.id)
		return
	}
	owner := s.hasOwnerAccess(c.uid, f)
	at := func(k string) (string, bool) {
		key := "userfile[" + k + "]"
		_, ok := c.p[key]
		return c.get(key), ok
	}
	if owner {
		// Validate first: an invalid record is not saved at all.
		verrs := map[string][]string{}
		newType := f.typ
		if v, ok := at("type"); ok && v != f.typ {
			if (singleTypes[v] && !f.coll) || (collectionTypes[v] && f.coll) {
				newType = v
			} else {
				verrs["type"] = []string{"is not a valid subclass of " + map[bool]string{true: "FileCollection", false: "SingleFile"}[f.coll]}
			}
		}
		var parent *int
		if v, ok := at("parent_id"); ok {
			if n, ok := railsInt(v); ok {
				if s.st.files[int(n)] == nil || int(n) == f.id {
					verrs["parent_id"] = []string{"is invalid"}
				} else {
					parent = intp(int(n))
				}
			}
		}
		if len(verrs) > 0 {
			c.json(http.StatusUnprocessableEntity, verrs)
			return
		}
		if v, ok := at("description"); ok {
			if c.nulls["userfile[description]"] {
				f.description = nil
			} else {
				f.description = strp(v)
			}
		}
		if v, ok := at("group_writable"); ok {
			f.groupWritable = railsBool(v)
		}
		if v, ok := at("hidden"); ok {
			f.hidden = railsBool(v)
		}
		if v, ok := at("immutable"); ok {
			f.immutable = railsBool(v)
		}
		if _, ok := at("parent_id"); ok {
			f.parentID = parent
		}
		if v, ok := at("num_files"); ok {
			if n, ok := railsInt(v); ok {
				f.numFiles = intp(int(n))
			} else {
				f.numFiles = nil
			}
		}
		if v, ok := at("size"); ok {
			if n, ok := railsInt(v); ok {
				f.size = int64p(n)
			} else {
				f.size = nil
			}
		}
		if v, ok := at("group_id"); ok {
			if g, ok := strictID(v); ok && s.assignableGroup(c.uid, g) {
				f.groupID = g
			}
		}
		if v, ok := at("user_id"); ok {
			if u, ok := strictID(v); ok && s.st.users[u] != nil && (s.isAdmin(c.uid) || u == c.uid) {
				f.userID = u
			}
		}
		f.typ = newType
		f.updatedAt = time.Now()
	}
	// set_tags_for_user runs on every update: the caller's own tags are
	// replaced by tag_ids (so none are kept when tag_ids is absent).
	s.setTagsForUser(f, c.uid, c.list("tag_ids"))

	if newName, ok := at("name"); owner && ok && newName != f.name {
		p := s.st.providers[f.dpID]
		switch {
		case p == nil || !p.online:
			c.cbError(fmt.Sprintf("Error: provider %s is offline.", providerName(p)))
			return
		case p.readOnly:
			c.cbError(fmt.Sprintf("Error: provider %s is read_only.", p.name))
			return
		case f.immutable:
			c.cbError(fmt.Sprintf("Error: file %s is immutable.", f.name))
			return
		case !legalName.MatchString(newName):
			c.json(http.StatusUnprocessableEntity, map[string][]string{"name": s.illegalRenameMessages()})
			return
		}
		// Same provider + same owner, case-insensitive, browse_path ignored,
		// the file itself included (§12); any owner on shared storage.
		lname := strings.ToLower(newName)
		for _, o := range s.st.files {
			if o.dpID == f.dpID && o.lname == lname && (o.userID == f.userID || p.shared) {
				if s.renameRefusedSilently() {
					// 7.0.0: provider_rename's false is ignored (release.go).
					c.head(http.StatusOK)
					return
				}
				c.json(http.StatusUnprocessableEntity, map[string][]string{"name": {renameTaken}})
				return
			}
		}
		s.setName(f, newName)
	}
	c.head(http.StatusOK)
}

// setTagsForUser: keep other users' tags, replace uid's own (mu held).
func (s *Server) setTagsForUser(f *userfile, uid int, ids []string) {
	var keep []int
	for _, t := range f.tagIDs {
		if tg := s.st.tags[t]; tg == nil || tg.userID != uid {
			keep = append(keep, t)
		}
	}
	for _, v := range ids {
		if t, ok := strictID(v); ok {
			if tg := s.st.tags[t]; tg != nil && tg.userID == uid {
				keep = append(keep, t)
			}
		}
	}
	f.tagIDs = keep
}
