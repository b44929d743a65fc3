package cbraintest

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

type bacAnswer struct {
	Message string `json:"message"`
	BACID   int    `json:"background_activity_id"`
}

// DELETE /userfiles/delete_files (§6, §12).
func (s *Server) hDeleteFiles(c *call) {
	ids, raw := c.fileIDs()
	if len(raw) == 0 {
		c.redirect("/userfiles")
		return
	}
	s.mu.Lock()
	var keep []int
	for _, id := range ids {
		if f := s.st.files[id]; f != nil && s.canWrite(c.uid, f) {
			keep = append(keep, id)
		}
	}
	s.mu.Unlock()
	if len(keep) == 0 {
		c.cbError("No appropriate files selected to delete")
		return
	}
	bid := s.startBAC(c.uid, "BackgroundActivity::DestroyFile", keep, map[string]any{}, func(id int) (any, bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		f := s.st.files[id]
		if f == nil {
			return "Userfile not found", false
		}
		if p := s.st.providers[f.dpID]; p == nil || !p.online || p.readOnly {
			return fmt.Sprintf("Cannot delete '%s': provider %s is offline or read-only", f.name, providerName(p)), false
		}
		s.deleteFileLocked(f)
		return nil, true
	})
	c.json(http.StatusOK, bacAnswer{"Your files are being deleted in background.", bid})
}

var crushRE = regexp.MustCompile(`(?i)crush`)

// POST /userfiles/change_provider (§6): move (same id) or copy (new id).
func (s *Server) hChangeProvider(c *call) {
	ids, raw := c.fileIDs()
	if len(raw) == 0 {
		c.redirect("/userfiles")
		return
	}
	destStr := c.get("data_provider_id_for_mv_cp")
	if destStr == "" {
		c.cbError("No data provider selected.")
		return
	}
	copyOp := c.has("copy") // neither key: a MOVE (but the message says "copied")
	word := ""
	switch {
	case c.has("move"):
		word = "move"
	case copyOp:
		word = "copy"
	}
	crush := crushRE.MatchString(c.get("crush_destination"))
	destN, _ := railsInt(destStr)
	dest := int(destN)

	s.mu.Lock()
	dp := s.st.providers[dest]
	if dp == nil || !s.providerAccessible(c.uid, dp) || !dp.online || dp.readOnly {
		s.mu.Unlock()
		c.cbError(fmt.Sprintf("Data provider %s not accessible.", destStr))
		return
	}
	var keep []int
	for _, id := range ids {
		f := s.st.files[id]
		if f == nil {
			continue
		}
		if (copyOp && s.canRead(c.uid, f)) || (!copyOp && s.canWrite(c.uid, f) && s.hasOwnerAccess(c.uid, f)) {
			keep = append(keep, id)
		}
	}
	project := 0
	if ss := c.session(); ss != nil {
		project = ss.project
	}
	ownGroup := s.st.users[c.uid].ownGroup
	s.mu.Unlock()
	if len(keep) == 0 {
		c.cbError("No appropriate files selected to " + word)
		return
	}
	opts := map[string]any{"dest_data_provider_id": dest, "crush_destination": crush}
	var bid int
	if copyOp {
		gid := ownGroup
		if project != 0 {
			gid = project
		}
		bid = s.startBAC(c.uid, "BackgroundActivity::CopyFile", keep, opts, func(id int) (any, bool) {
			return s.copyItem(id, dest, c.uid, gid, crush)
		})
	} else {
		bid = s.startBAC(c.uid, "BackgroundActivity::MoveFile", keep, opts, func(id int) (any, bool) {
			return s.moveItem(id, dest, crush)
		})
	}
	verb := "copied"
	if c.has("move") {
		verb = "moved"
	}
	c.json(http.StatusOK, bacAnswer{"Your files are being " + verb + " in the background.\n", bid})
}

// destConflict finds a same-name file for owner on dp (case-insensitive,
// §8); on shared storage any owner's file conflicts (mu held).
func (s *Server) destConflict(dp *provider, owner int, lname string, except int) (mine, others *userfile) {
	for _, o := range s.st.files {
		if o.id == except || o.dpID != dp.id || o.lname != lname {
			continue
		}
		if o.userID == owner {
			mine = o
		} else if dp.shared {
			others = o
		}
	}
	return mine, others
}

// itemCheck: common move/copy failures (mu held).
func (s *Server) itemCheck(f *userfile, src, dst *provider) string {
	switch {
	case src == nil || !src.online:
		return fmt.Sprintf("Data provider %s is offline.", providerName(src))
	case dst == nil || !dst.online:
		return fmt.Sprintf("Data provider %s is offline.", providerName(dst))
	case dst.readOnly:
		return fmt.Sprintf("Data provider %s is read-only.", dst.name)
	case !f.stored:
		return fmt.Sprintf("File '%s' is in transfer.", f.name)
	}
	return ""
}

func (s *Server) moveItem(id, dest int, crush bool) (any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.st.files[id]
	if f == nil {
		return "Userfile not found", false
	}
	if f.dpID == dest {
		return "Skipped", true
	}
	src, dst := s.st.providers[f.dpID], s.st.providers[dest]
	if msg := s.itemCheck(f, src, dst); msg != "" {
		return msg, false
	}
	if f.immutable || src.readOnly {
		return fmt.Sprintf("Failed to move '%s'", f.name), false
	}
	mine, others := s.destConflict(dst, f.userID, f.lname, f.id)
	if others != nil || (mine != nil && (!crush || mine.typ != f.typ)) {
		return fmt.Sprintf("Failed to move '%s'", f.name), false
	}
	if mine != nil {
		s.deleteFileLocked(mine) // crushed
	}
	f.dpID, f.cached = dest, true // moved through the portal cache
	f.updatedAt = time.Now()
	return nil, true
}

func (s *Server) copyItem(id, dest, uid, gid int, crush bool) (any, bool) {
	s.mu.Lock()
	f := s.st.files[id]
	if f == nil {
		s.mu.Unlock()
		return "Userfile not found", false
	}
	if f.dpID == dest {
		s.mu.Unlock()
		return "Skipped", true
	}
	src, dst := s.st.providers[f.dpID], s.st.providers[dest]
	if msg := s.itemCheck(f, src, dst); msg != "" {
		s.mu.Unlock()
		return msg, false
	}
	mine, others := s.destConflict(dst, uid, f.lname, -1)
	if others != nil || (mine != nil && (!crush || mine.typ != f.typ)) {
		s.mu.Unlock()
		return fmt.Sprintf("Failed to copy '%s'", f.name), false
	}
	snap := *f
	gen := s.nextGenLocked()
	var newID int
	if mine != nil {
		newID = mine.id // overwritten in place
	} else {
		newID = s.newID("userfiles")
	}
	s.mu.Unlock()

	// Copy the content without the lock (a Source is shared, not copied).
	var data string
	if snap.data != "" {
		kind := "v"
		if snap.coll {
			kind = "c"
		}
		data = filepath.Join(s.fileDir(newID), fmt.Sprintf("%s%d", kind, gen))
		if err := copyTree(snap.data, data); err != nil {
			os.RemoveAll(data)
			return fmt.Sprintf("Failed to copy '%s'", snap.name), false
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if mine != nil {
		if cur := s.st.files[mine.id]; cur != nil {
			old := cur.data
			cur.data, cur.src, cur.srcSize = data, snap.src, snap.srcSize
			cur.size, cur.numFiles, cur.stored, cur.cached, cur.updatedAt = snap.size, snap.numFiles, true, true, now
			removeLater(old)
			return mine.id, true
		}
	}
	nf := &userfile{id: newID, name: snap.name, lname: snap.lname, userID: uid, typ: snap.typ, groupID: gid,
		dpID: dest, size: snap.size, numFiles: snap.numFiles, description: snap.description, archived: snap.archived,
		coll: snap.coll, data: data, src: snap.src, srcSize: snap.srcSize, stored: true, cached: true,
		createdAt: now, updatedAt: now}
	s.st.files[newID] = nf
	s.st.sortedDirty = true
	return newID, true
}

// ---- compress / uncompress (§6) ----

type compressAnswer struct {
	Message string `json:"message"`
	BACID   *int   `json:"backgroud_activity_id"` // sic: the real key is misspelled
}

func (s *Server) hCompress(c *call)   { s.compressOp(c, true) }
func (s *Server) hUncompress(c *call) { s.compressOp(c, false) }

func (s *Server) compressOp(c *call, compress bool) {
	ids, _ := c.fileIDs()
	s.mu.Lock()
	var keep []int
	for _, id := range ids {
		f := s.st.files[id]
		if f == nil || !s.canWrite(c.uid, f) {
			continue
		}
		gz := strings.HasSuffix(f.lname, ".gz")
		if (f.coll && f.archived != compress) || (!f.coll && gz != compress) {
			keep = append(keep, id)
		}
	}
	s.mu.Unlock()
	verb, typ := "compressed", "BackgroundActivity::CompressFile"
	if !compress {
		verb, typ = "uncompressed", "BackgroundActivity::UncompressFile"
	}
	// The wording is manage_compression's (userfiles_controller.rb):
	// "Nothing to #{operation}" and "#{view_pluralize(n, "file")} being
	// #{operation}ed in background.\n".
	if len(keep) == 0 {
		c.json(http.StatusOK, compressAnswer{"Nothing to " + strings.TrimSuffix(verb, "ed"), nil})
		return
	}
	bid := s.startBAC(c.uid, typ, keep, map[string]any{}, func(id int) (any, bool) {
		return s.compressItem(id, compress)
	})
	c.json(http.StatusOK, compressAnswer{fmt.Sprintf("%s being %s in background.\n", pluralize(len(keep), "file"), verb), &bid})
}

func (s *Server) compressItem(id int, compress bool) (any, bool) {
	s.mu.Lock()
	f := s.st.files[id]
	if f == nil {
		s.mu.Unlock()
		return "Userfile not found", false
	}
	p := s.st.providers[f.dpID]
	if msg := s.itemCheck(f, p, p); msg != "" || f.immutable {
		s.mu.Unlock()
		return fmt.Sprintf("Skipped: '%s' cannot be modified. %s", f.name, msg), false
	}
	newName := f.name
	if !f.coll {
		if compress {
			newName += ".gz"
		} else {
			newName = newName[:len(newName)-3]
		}
		if mine, others := s.destConflict(p, f.userID, strings.ToLower(newName), f.id); mine != nil || others != nil {
			s.mu.Unlock()
			return fmt.Sprintf("Skipped: '%s' already exists.", newName), false
		}
	}
	snap := *f
	gen := s.nextGenLocked()
	s.mu.Unlock()

	var data string
	var size int64
	var n int
	var err error
	switch {
	case !snap.coll && compress:
		data = filepath.Join(s.fileDir(id), fmt.Sprintf("v%d", gen))
		size, err = s.gzipTo(refOf(&snap), data)
		n = 1
	case !snap.coll:
		data = filepath.Join(s.fileDir(id), fmt.Sprintf("v%d", gen))
		size, err = s.gunzipTo(refOf(&snap), data)
		n = 1
	case compress:
		data = filepath.Join(s.fileDir(id), fmt.Sprintf("c%d", gen))
		size, err = s.archiveDir(snap.data, data)
		n = 1
	default:
		data = filepath.Join(s.fileDir(id), fmt.Sprintf("c%d", gen))
		err = s.unarchiveDir(snap.data, data)
		size, n = collectionStats(data)
	}
	if err != nil {
		os.RemoveAll(data)
		return fmt.Sprintf("Failed to process '%s': %v", snap.name, err), false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f = s.st.files[id]
	if f == nil {
		os.RemoveAll(data)
		return "Userfile not found", false
	}
	old := f.data
	f.data, f.src, f.srcSize = data, nil, 0
	f.size, f.numFiles, f.cached, f.updatedAt = int64p(size), intp(n), true, time.Now()
	if f.coll {
		f.archived = compress
	} else {
		s.setName(f, newName)
	}
	removeLater(old)
	return nil, true
}

// pluralize is ActionView's pluralize(count, word) for regular nouns:
// "1 file", "2 files".
func pluralize(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
