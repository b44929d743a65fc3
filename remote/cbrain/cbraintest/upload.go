package cbraintest

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// legalName is Userfile.is_legal_filename? (§8); \w is ASCII-only in Ruby.
var legalName = regexp.MustCompile(`\A[a-zA-Z0-9][\w~!@#%^()\-+=:\[\]{},.?]*\z`)

// suggestedType is Userfile.suggested_file_type: by extension, else SingleFile.
func suggestedType(name string) string {
	l := strings.ToLower(name)
	switch {
	case strings.HasSuffix(l, ".nii"), strings.HasSuffix(l, ".nii.gz"):
		return "NiftiFile"
	case strings.HasSuffix(l, ".mnc"):
		return "MincFile"
	case strings.HasSuffix(l, ".txt"):
		return "TextFile"
	case strings.HasSuffix(l, ".json"):
		return "JsonFile"
	case strings.HasSuffix(l, ".csv"):
		return "CSVFile"
	case strings.HasSuffix(l, ".dat"):
		return "DatFile"
	case strings.HasSuffix(l, ".log"):
		return "LogFile"
	}
	return "SingleFile"
}

// nameErrors runs the create-time validations on name (mu held): legal
// characters; uniqueness per owner+provider+browse_path (case-sensitive),
// and across all users, case-insensitively, on shared-storage providers
// (§8, §12). The messages are ActiveModel full messages.
func (s *Server) nameErrors(name string, owner int, p *provider, exceptID int) (errs []string, taken bool) {
	if !legalName.MatchString(name) {
		errs = append(errs, "Name contains invalid characters")
	}
	if p == nil {
		return errs, false
	}
	lname := strings.ToLower(name)
	same, shared := false, false
	for _, f := range s.st.files {
		if f.id == exceptID || f.dpID != p.id {
			continue
		}
		if f.userID == owner && f.name == name && f.browsePath == nil {
			same = true
		}
		if p.shared && f.lname == lname && !(f.userID == owner && f.name == name) {
			shared = true
		}
	}
	if same {
		errs = append(errs, "Name has already been taken")
	}
	if shared {
		errs = append(errs, "Name already exists on data provider (and may belong to another user)")
	}
	return errs, same || shared
}

func createNotice(name string, errs []string, taken bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "File '%s' could not be added.\n", name)
	for _, e := range errs {
		b.WriteString(e + ".\n")
	}
	if taken {
		b.WriteString("\nNote: a Data Provider cannot have two files with the same name. It might help to rename the file before uploading it, or upload it to a different Data Provider.\n")
	}
	return b.String()
}

// POST /userfiles, multipart (§4). The file part is streamed to
// DataDir/tmp, never held in memory. (Authentication happened before the
// body was read, so a cbrain_api_token inside the multipart body is not
// seen: use the header or the query string.)
func (s *Server) hUpload(c *call) {
	var tmp, fname string
	var size int64
	defer func() {
		if tmp != "" {
			os.Remove(tmp) // not handed over to the background copier
		}
	}()
	mr, err := c.r.MultipartReader()
	if err != nil { // not multipart: take the other params, there is no file
		if err := c.parseParams(); err != nil {
			c.json(http.StatusBadRequest, map[string]any{"error": err.Error()})
			return
		}
	} else {
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				c.json(http.StatusBadRequest, map[string]any{"error": "bad multipart body: " + err.Error()})
				return
			}
			if part.FormName() == "upload_file" && part.FileName() != "" {
				fh, err := os.CreateTemp(filepath.Join(s.opts.DataDir, "tmp"), "upload-")
				if err != nil {
					c.json(http.StatusInternalServerError, map[string]any{"error": err.Error()})
					return
				}
				if tmp != "" {
					os.Remove(tmp)
				}
				tmp, fname = fh.Name(), part.FileName()
				size, err = io.Copy(fh, part)
				fh.Close()
				if err != nil {
					c.json(http.StatusInternalServerError, map[string]any{"error": err.Error()})
					return
				}
				continue
			}
			v, _ := io.ReadAll(io.LimitReader(part, 1<<20))
			c.p.Add(part.FormName(), string(v))
		}
	}
	name := fname
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:] // File.basename
	}
	if tmp == "" || name == "" {
		c.head(http.StatusUnprocessableEntity) // blank upload_file
		return
	}
	if !c.has("userfile") {
		c.json(http.StatusInternalServerError, map[string]any{"error": "param is missing or the value is empty: userfile"})
		return
	}
	if c.get("_do_extract") == "on" {
		l := strings.ToLower(name)
		if !(strings.HasSuffix(l, ".tar") || strings.HasSuffix(l, ".tgz") || strings.HasSuffix(l, ".tar.gz") || strings.HasSuffix(l, ".zip")) {
			c.json(http.StatusUnprocessableEntity, fmt.Sprintf("Error: file %s does not have one of the supported extensions: .tar, .tar.gz, .tgz or .zip.\n", name))
			return
		}
		c.json(http.StatusInternalServerError, map[string]any{"error": "cbraintest: archive extraction (_do_extract) is not emulated"})
		return
	}

	s.mu.Lock()
	u := s.st.users[c.uid]
	dpID, _ := railsInt(c.get("data_provider_id"))
	p := s.st.providers[int(dpID)]
	if p != nil && s.st.quotaExceeded[c.uid] {
		s.mu.Unlock()
		c.cbNotice(fmt.Sprintf("Disk Quota Exceeded for user '%s' on data provider '%s'", u.login, p.name))
		return
	}
	gid, _ := railsInt(c.get("userfile[group_id]"))
	if !s.assignableGroup(c.uid, int(gid)) {
		gid = int64(u.ownGroup) // silently
	}
	typ := c.get("file_type")
	if !singleTypes[typ] {
		typ = suggestedType(name)
	}
	errs, taken := s.nameErrors(name, c.uid, p, 0)
	if p == nil {
		errs = append(errs, "Data_provider does not exist")
	}
	if len(errs) > 0 {
		s.mu.Unlock()
		c.json(http.StatusUnprocessableEntity, map[string]any{"notice": createNotice(name, errs, taken)})
		return
	}
	id := s.newID("userfiles")
	now := time.Now()
	f := &userfile{id: id, name: name, lname: strings.ToLower(name), userID: c.uid, typ: typ, groupID: int(gid),
		dpID: p.id, numFiles: intp(1), createdAt: now, updatedAt: now,
		groupWritable: railsBool(c.get("userfile[group_writable]")), hidden: railsBool(c.get("userfile[hidden]")),
		immutable: railsBool(c.get("userfile[immutable]"))}
	if c.has("userfile[description]") {
		f.description = strp(c.get("userfile[description]"))
	}
	if v, ok := railsInt(c.get("userfile[parent_id]")); ok {
		f.parentID = intp(int(v))
	}
	for _, t := range c.list("tags") {
		if tid, ok := strictID(t); ok && s.st.tags[tid] != nil {
			f.tagIDs = append(f.tagIDs, tid)
		}
	}
	s.st.files[id] = f
	s.st.sortedDirty = true
	// The background copier dies silently (record stuck at size null) if
	// the knob is set or the provider cannot take the file (§4).
	fails := s.st.uploadNoEnd || !p.online || p.readOnly
	gen := s.nextGenLocked()
	s.mu.Unlock()

	if !fails {
		src := tmp
		tmp = "" // handed over
		s.goBackground(func() {
			dst := filepath.Join(s.fileDir(id), fmt.Sprintf("v%d", gen))
			ok := s.sleep(s.opts.UploadDelay)
			if ok {
				ok = os.MkdirAll(filepath.Dir(dst), 0o755) == nil && os.Rename(src, dst) == nil
			}
			if !ok {
				os.Remove(src)
				return
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if f := s.st.files[id]; f != nil { // may have been deleted meanwhile
				f.data, f.size, f.stored, f.cached = dst, int64p(size), true, true
				f.updatedAt = time.Now()
			} else {
				os.Remove(dst)
			}
		})
	}
	c.json(http.StatusCreated, map[string]any{"notice": "File Uploaded"})
}

// POST /userfiles/detect_file_type: {"type": "..."}.
func (s *Server) hDetectFileType(c *call) {
	c.json(http.StatusOK, map[string]any{"type": suggestedType(c.get("file_name"))})
}
