package cbraintest

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
)

// maxDownloadBytes is MAX_DOWNLOAD_MEGABYTES = 400.
const maxDownloadBytes = 400 << 20

// POST (or GET) /userfiles/download (§3): synchronous; one SingleFile is
// sent raw, anything else as a tar.gz; refusals are HTTP 200 {"error"};
// a blank or inaccessible file_ids is a 302.
func (s *Server) hDownload(c *call) {
	ids, raw := c.fileIDs()
	if len(raw) == 0 {
		c.redirect("/userfiles")
		return
	}
	spec := c.get("specified_filename")
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
	for _, f := range files {
		if f.size == nil {
			refuse = fmt.Sprintf("Size of the file %s is not yet determined.", f.name)
			break
		}
		total += *f.size
		if names[f.name] {
			refuse = fmt.Sprintf("Some files have the same name (%s) and cannot be downloaded together.", f.name)
			break
		}
		names[f.name] = true
	}
	switch {
	case refuse != "":
	case total > maxDownloadBytes:
		refuse = fmt.Sprintf("You cannot download more than %d MB at once; the selected files total %d MB.", maxDownloadBytes>>20, total>>20)
	case spec != "" && !legalName.MatchString(spec):
		refuse = fmt.Sprintf("Filename '%s' is not acceptable.", spec)
	}
	if refuse == "" { // sync_to_cache every file, synchronously
		for _, f := range files {
			p := s.st.providers[f.dpID]
			if p == nil || !p.online || !f.stored {
				refuse = fmt.Sprintf("Cannot synchronize file %s: provider %s is offline or the content is not available.", f.name, providerName(p))
				break
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
	base := spec
	for _, suf := range []string{".tar.gz", ".gz", ".tar"} {
		base = strings.TrimSuffix(base, suf)
	}
	if len(items) == 1 && !items[0].coll {
		name := items[0].name
		if base != "" {
			name = base
		}
		c.sendFile(items[0].ref, name, "attachment")
		return
	}
	if base == "" {
		base = fmt.Sprintf("cbrain_files_%s.%d", login, 1000+rand.IntN(9000))
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
