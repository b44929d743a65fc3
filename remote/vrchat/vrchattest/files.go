package vrchattest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// File and version records: GET /files, POST /file, GET/DELETE
// /file/{id}, POST /file/{id}, DELETE /file/{id}/{v} (§3).

// findFileLocked resolves c.id. A malformed id gives the recorded
// "model <id> not found" (§3), an unknown one "File not found".
func (s *Server) findFileLocked(id string) (*file, int, string) {
	if !fileIDRe.MatchString(id) {
		return nil, http.StatusNotFound, "model " + id + " not found"
	}
	f := s.st.files[id]
	if f == nil {
		return nil, http.StatusNotFound, msgFileNotFound
	}
	return f, 0, ""
}

// ownedFileLocked is findFileLocked for writes: only the owner may change
// a File ([INF] 403; reads are open to every logged-in user, as image
// URLs are).
func (s *Server) ownedFileLocked(c *call) (*file, int, string) {
	f, st, msg := s.findFileLocked(c.id)
	if f != nil && f.ownerID != c.sess.userID {
		return nil, http.StatusForbidden, msgForbidden
	}
	return f, st, msg
}

// dropPartsLocked unindexes the parts of v and returns the objects to
// remove from disk once mu is released.
func (s *Server) dropPartsLocked(v *version) []*object {
	var objs []*object
	for _, p := range v.parts() {
		if s.st.objects[p.fileName] == p {
			delete(s.st.objects, p.fileName)
		}
		objs = append(objs, p.obj, p.staged)
		for _, o := range p.uploads {
			objs = append(objs, o)
		}
		p.status = "none" // in-flight uploads against it now fail
	}
	return objs
}

func removeAll(objs []*object) {
	for _, o := range objs {
		o.remove()
	}
}

// GET /files?tag=&n=&offset= : the caller's Files, oldest first [INF].
// n must be 1..100 (default 60) and offset ≥ 0, else 400 [INF: the spec
// gives the range; the server's reaction to n > 100 is not recorded, and
// refusing catches clients that would rely on a clamp]. An empty tag= is
// refused too (the spec says minLength 1). Without tag every File is
// listed [?].
func (s *Server) hListFiles(c *call) {
	q := c.r.URL.Query()
	n, offset := 60, 0
	if q.Has("n") {
		v, err := strconv.Atoi(q.Get("n"))
		if err != nil || v < 1 || v > 100 {
			c.error(http.StatusBadRequest, `"n" must be an integer between 1 and 100`)
			return
		}
		n = v
	}
	if q.Has("offset") {
		v, err := strconv.Atoi(q.Get("offset"))
		if err != nil || v < 0 {
			c.error(http.StatusBadRequest, `"offset" must be an integer greater than or equal to 0`)
			return
		}
		offset = v
	}
	if q.Has("userId") { // deprecated: "will always generate a 500 permission error" (§3)
		c.error(http.StatusInternalServerError, `"You do not have permission to list files of that user"`)
		return
	}
	tag, byTag := q.Get("tag"), q.Has("tag")
	if byTag && tag == "" {
		c.error(http.StatusBadRequest, `"tag" must not be empty`)
		return
	}
	s.mu.Lock()
	out := []fileJSON{}
	skipped := 0
	for _, f := range s.st.owned[c.sess.userID] {
		if len(out) == n {
			break
		}
		if byTag && !contains(f.tags, tag) {
			continue
		}
		if skipped < offset {
			skipped++
			continue
		}
		out = append(out, s.fileJSONLocked(f))
	}
	s.mu.Unlock()
	c.json(http.StatusOK, out)
}

// knownMIME is the MIMEType enum (§2.5) with the real "+" in svg+xml, plus
// application/x-msdownload, which the SDK uses for .dll.
var knownMIME = map[string]bool{
	"application/gzip": true, "application/octet-stream": true, "application/x-avatar": true,
	"application/x-prop": true, "application/x-rsync-delta": true, "application/x-rsync-signature": true,
	"application/x-world": true, "image/bmp": true, "image/gif": true, "image/jpeg": true, "image/jpg": true,
	"image/png": true, "image/svg+xml": true, "image/tiff": true, "image/webp": true,
	"application/x-msdownload": true,
}

// decodeBody decodes a JSON object body strictly enough to tell a missing
// field from a zero one.
func decodeBody(c *call, v any) bool {
	dec := json.NewDecoder(c.r.Body)
	if err := dec.Decode(v); err != nil {
		c.error(http.StatusBadRequest, "Invalid JSON body: "+err.Error()) // [INF]
		return false
	}
	return true
}

// newFileLocked creates a File with its version 0 (§2.2).
func (s *Server) newFileLocked(owner, name, mime, ext string, tags []string) *file {
	f := &file{id: "file_" + newUUID(), name: name, ownerID: owner, mimeType: mime, extension: normExtension(ext),
		tags: append([]string{}, tags...)}
	f.versions = []*version{{n: 0, status: "complete", created: time.Now()}}
	s.st.files[f.id] = f
	s.st.owned[owner] = append(s.st.owned[owner], f)
	return f
}

// POST /file {"name","mimeType","extension","tags"?} → File with only
// version 0; "A" is stored as ".A" (§3, §2.1).
func (s *Server) hCreateFile(c *call) {
	var req struct {
		Name      *string  `json:"name"`
		MimeType  *string  `json:"mimeType"`
		Extension *string  `json:"extension"`
		Tags      []string `json:"tags"`
	}
	if !decodeBody(c, &req) {
		return
	}
	switch {
	case req.Name == nil:
		c.error(http.StatusBadRequest, `"name" is required`)
		return
	case req.MimeType == nil:
		c.error(http.StatusBadRequest, `"mimeType" is required`)
		return
	case !knownMIME[*req.MimeType]:
		c.error(http.StatusBadRequest, fmt.Sprintf("%q is not a valid mimeType", *req.MimeType))
		return
	case req.Extension == nil || *req.Extension == "":
		c.error(http.StatusBadRequest, `"extension" is required`)
		return
	}
	s.mu.Lock()
	f := s.newFileLocked(c.sess.userID, *req.Name, *req.MimeType, *req.Extension, req.Tags)
	j := s.fileJSONLocked(f)
	s.mu.Unlock()
	c.json(http.StatusOK, j)
}

// GET /file/{id}. Each GET counts one poll of what is processed after a
// finish (pollLocked).
func (s *Server) hGetFile(c *call) {
	s.mu.Lock()
	f, st, msg := s.findFileLocked(c.id)
	if f == nil {
		s.mu.Unlock()
		c.error(st, msg)
		return
	}
	j := s.fileJSONLocked(f)
	s.pollLocked(f)
	s.mu.Unlock()
	c.json(http.StatusOK, j)
}

// DELETE /file/{id} → the deleted File (§3, PR #354); later GETs → 404.
func (s *Server) hDeleteFile(c *call) {
	s.mu.Lock()
	f, st, msg := s.ownedFileLocked(c)
	if f == nil {
		s.mu.Unlock()
		c.error(st, msg)
		return
	}
	j := s.fileJSONLocked(f)
	var objs []*object
	for _, v := range f.versions {
		objs = append(objs, s.dropPartsLocked(v)...)
	}
	delete(s.st.files, f.id)
	list := s.st.owned[f.ownerID]
	for i, g := range list {
		if g == f {
			s.st.owned[f.ownerID] = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	for k := range s.st.analysis {
		if k.fileID == f.id {
			delete(s.st.analysis, k)
		}
	}
	s.mu.Unlock()
	removeAll(objs)
	c.json(http.StatusOK, j)
}

// declared is one md5/size pair of POST /file/{id}.
type declared struct {
	md5  string
	size int64
	set  bool
}

// parseDeclared reads md5Key/sizeKey from the body. Both or neither must
// be present; the MD5 must be valid base64 (not necessarily 16 bytes:
// the recorded test sends "dGVzdA==", §3).
func parseDeclared(raw map[string]json.RawMessage, md5Key, sizeKey string) (declared, string) {
	m, hasM := raw[md5Key]
	z, hasZ := raw[sizeKey]
	if !hasM && !hasZ {
		return declared{}, ""
	}
	if !hasM || !hasZ {
		return declared{}, fmt.Sprintf("%q and %q must be given together", md5Key, sizeKey)
	}
	var d declared
	if err := json.Unmarshal(m, &d.md5); err != nil || d.md5 == "" {
		return declared{}, fmt.Sprintf("%q must be a non-empty string", md5Key)
	}
	if _, err := base64.StdEncoding.DecodeString(d.md5); err != nil {
		return declared{}, fmt.Sprintf("%q must be a valid base64 string", md5Key)
	}
	dec := json.NewDecoder(bytes.NewReader(z))
	dec.UseNumber()
	var num json.Number
	if err := dec.Decode(&num); err != nil {
		return declared{}, fmt.Sprintf("%q must be a number", sizeKey)
	}
	n, err := num.Int64()
	if err != nil || n < 0 {
		return declared{}, fmt.Sprintf("%q must be a non-negative integer", sizeKey)
	}
	d.size, d.set = n, true
	return d, ""
}

func (s *Server) newPart(f *file, v *version, kind string, d declared) *part {
	p := &part{f: f, v: v, kind: kind, fileName: partFileName(f, v.n, kind), md5: d.md5, hasMD5: true, size: d.size,
		status: "waiting", category: "simple"}
	if d.size >= s.opts.MultipartThreshold {
		p.category = s.opts.LargeCategory
	}
	return p
}

// indexPartsLocked makes the version's parts reachable by object key.
func (s *Server) indexPartsLocked(v *version) {
	for _, p := range v.parts() {
		s.st.objects[p.fileName] = p
	}
}

// POST /file/{id} {"signatureMd5","signatureSizeInBytes","fileMd5"?,
// "fileSizeInBytes"?,"deltaMd5"?,"deltaSizeInBytes"?} → File with a new
// "waiting" version (§3, §10).
func (s *Server) hCreateVersion(c *call) {
	var raw map[string]json.RawMessage
	if !decodeBody(c, &raw) {
		return
	}
	sig, msg := parseDeclared(raw, "signatureMd5", "signatureSizeInBytes")
	if msg == "" && !sig.set {
		msg = `"signatureMd5" and "signatureSizeInBytes" are required`
	}
	fd, msg2 := parseDeclared(raw, "fileMd5", "fileSizeInBytes")
	dd, msg3 := parseDeclared(raw, "deltaMd5", "deltaSizeInBytes")
	for _, m := range []string{msg, msg2, msg3} {
		if m != "" {
			c.error(http.StatusBadRequest, m)
			return
		}
	}
	s.mu.Lock()
	f, st, emsg := s.ownedFileLocked(c)
	if f == nil {
		s.mu.Unlock()
		c.error(st, emsg)
		return
	}
	v := &version{n: len(f.versions), status: "waiting", created: time.Now()}
	if fd.set {
		v.file = s.newPart(f, v, "file", fd)
	}
	v.signature = s.newPart(f, v, "signature", sig)
	if dd.set {
		v.delta = s.newPart(f, v, "delta", dd)
	}
	f.versions = append(f.versions, v)
	s.indexPartsLocked(v)
	j := s.fileJSONLocked(f)
	s.mu.Unlock()
	c.json(http.StatusOK, j)
}

// DELETE /file/{id}/{v}: v0 → 400; not the latest → HTTP 500 whose
// message says 409; the latest → removed from versions[] (the live
// behaviour since 2025-02-20) and the File returned (§3, §7).
func (s *Server) hDeleteVersion(c *call) {
	s.mu.Lock()
	f, st, msg := s.ownedFileLocked(c)
	if f == nil {
		s.mu.Unlock()
		c.error(st, msg)
		return
	}
	latest := len(f.versions) - 1
	switch {
	case c.v == 0:
		s.mu.Unlock()
		c.error(http.StatusBadRequest, msgDeleteInitial)
		return
	case c.v > latest:
		s.mu.Unlock()
		c.error(http.StatusNotFound, "File version not found") // [INF]
		return
	case c.v < latest:
		s.mu.Unlock()
		c.error(http.StatusInternalServerError, fmt.Sprintf("409 Cannot delete against anything but the latest version of this file: %d, %d", c.v, latest))
		return
	}
	v := f.versions[latest]
	objs := s.dropPartsLocked(v)
	f.versions = f.versions[:latest]
	delete(s.st.analysis, analysisKey{f.id, latest})
	j := s.fileJSONLocked(f)
	s.mu.Unlock()
	removeAll(objs)
	c.json(http.StatusOK, j)
}
