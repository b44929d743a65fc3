package cbraintest

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"time"
)

// maxDownloadBytes is MAX_DOWNLOAD_MEGABYTES = 400.
const maxDownloadBytes = 400 << 20

// downloadSuffix is what #download strips from specified_filename.
var downloadSuffix = regexp.MustCompile(`(?i)(\.tar)?(\.g?z)?\z`)

// POST (or GET) /userfiles/download (§3; userfiles_controller.rb
// #download): synchronous; one SingleFile is sent raw, anything else as a
// tar.gz; refusals are HTTP 200 {"error"} in the source's wording and
// order; a blank or inaccessible file_ids is a 302.
func (s *Server) hDownload(c *call) {
	ids, raw := c.fileIDs()
	if len(raw) == 0 {
		c.redirect("/userfiles")
		return
	}
	// specified_filename.sub!(/(\.tar)?(\.g?z)?\z/i, ""), then checked
	// before anything else.
	spec := downloadSuffix.ReplaceAllString(c.get("specified_filename"), "")
	if spec != "" && !legalName.MatchString(spec) {
		c.cbNotice(fmt.Sprintf("Error: filename '%s' is not acceptable (illegal characters?).", spec))
		return
	}
	s.mu.Lock()
	var files []*userfile
	for _, id := range ids {
		f := s.st.files[id]
		if f == nil || !s.canRead(c.uid, f) {
			s.mu.Unlock()
			c.redirect("/userfiles") // permission_check rescues RecordNotFound
			return
		}
		files = append(files, f)
	}
	login := s.st.users[c.uid].login
	refuse := ""
	var total int64
	names := map[string]bool{}
	dup := false
	for _, f := range files {
		if f.size == nil && refuse == "" {
			refuse = fmt.Sprintf("Size of the file %s is not yet determined. Please try again latter.\n", f.name)
		}
		if f.size != nil {
			total += *f.size
		}
		dup = dup || names[f.name]
		names[f.name] = true
	}
	switch {
	case refuse != "":
	case total > maxDownloadBytes:
		refuse = fmt.Sprintf("You cannot download data that exceeds %d megabytes using a browser.\n"+
			"Consider using an externally accessible Data Provider (ask the admins for more info).\n", maxDownloadBytes>>20)
	case dup:
		refuse = "Some files have the same names and cannot be downloaded together. Use separate downloads."
	}
	syncFailed := false
	if refuse == "" { // sync_to_cache every file, synchronously
		for _, f := range files {
			p := s.st.providers[f.dpID]
			if p == nil || !p.online || !f.stored {
				syncFailed = true
				continue
			}
			f.cached = true
		}
	}
	type item struct {
		name string
		coll bool
		ref  contentRef
	}
	var items []item
	for _, f := range files {
		items = append(items, item{f.name, f.coll, refOf(f)})
	}
	s.mu.Unlock()
	if refuse != "" {
		c.cbNotice(refuse)
		return
	}
	if syncFailed {
		// error_message_sender (lib/message_helpers.rb) sends the user an
		// error Message but sets no flash[:error]: {"error":null}.
		s.countPortalReports(1, 0)
		c.json(http.StatusOK, map[string]any{"error": nil})
		return
	}
	base := spec
	if len(items) == 1 && !items[0].coll {
		name := items[0].name
		if base != "" {
			name = base
		}
		c.sendFile(items[0].ref, name, "attachment")
		return
	}
	if base == "" {
		// "cbrain_files_#{login}.#{Time.now.to_i.to_s[-4..-1]}"
		base = fmt.Sprintf("cbrain_files_%s.%04d", login, time.Now().Unix()%10000)
	}
	name := base + ".tar.gz"
	h := c.w.Header()
	h.Set("Content-Type", mimeFor(name))
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	h.Set("Content-Transfer-Encoding", "binary")
	h.Set("Cache-Control", "private")
	c.w.WriteHeader(http.StatusOK)
	zw := gzip.NewWriter(c.contentWriter())
	tw := tar.NewWriter(zw)
	for _, it := range items {
		var err error
		if it.coll {
			err = tarTree(tw, it.ref.data, it.name)
		} else {
			err = tarSingle(tw, it.name, it.ref)
		}
		if err != nil {
			s.logf("cbraintest: download tar: %v", err)
			return
		}
	}
	tw.Close()
	zw.Close()
}

func tarSingle(tw *tar.Writer, name string, ref contentRef) error {
	rc, size, err := ref.open()
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err = io.Copy(tw, rc)
	return err
}
