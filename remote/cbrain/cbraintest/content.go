package cbraintest

import (
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/filesmount/filesmount/internal/faults"
)

// railsMime is Rails 5.0's MIME table, used by send_file to pick the
// Content-Type from the file name's last extension (§3).
var railsMime = map[string]string{
	"html": "text/html", "htm": "text/html", "txt": "text/plain", "text": "text/plain",
	"js": "text/javascript", "css": "text/css", "ics": "text/calendar", "csv": "text/csv", "vcf": "text/vcard",
	"png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg", "jpe": "image/jpeg", "pjpeg": "image/jpeg",
	"gif": "image/gif", "bmp": "image/bmp", "tiff": "image/tiff", "tif": "image/tiff", "svg": "image/svg+xml",
	"mpeg": "video/mpeg", "mpg": "video/mpeg", "mp3": "audio/mpeg", "ogg": "audio/ogg", "m4a": "audio/aac",
	"webm": "video/webm", "mp4": "video/mp4", "otf": "font/otf", "ttf": "font/ttf", "woff": "font/woff",
	"woff2": "font/woff2", "xml": "application/xml", "rss": "application/rss+xml", "atom": "application/atom+xml",
	"yaml": "application/x-yaml", "yml": "application/x-yaml", "json": "application/json",
	"pdf": "application/pdf", "zip": "application/zip", "gz": "application/gzip",
}

func mimeFor(name string) string {
	ext := strings.TrimPrefix(strings.ToLower(path.Ext(name)), ".")
	if t, ok := railsMime[ext]; ok {
		return t
	}
	return "application/octet-stream"
}

// sendFile is Rails' send_file: the whole body, always (no Range support,
// §3), no ETag/Last-Modified. It streams, so multi-GiB contents use no
// memory.
func (c *call) sendFile(ref contentRef, filename, disposition string) {
	rc, size, err := ref.open()
	if err != nil {
		c.contentFail()
		return
	}
	defer rc.Close()
	h := c.w.Header()
	h.Set("Content-Type", mimeFor(filename))
	h.Set("Content-Disposition", disposition+`; filename="`+filename+`"`)
	h.Set("Content-Transfer-Encoding", "binary")
	h.Set("Cache-Control", "private")
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	c.w.WriteHeader(http.StatusOK)
	if c.r.Method == http.MethodHead {
		return
	}
	var src io.Reader = rc
	if c.s.corrupt.Load() {
		src = faults.Corrupt(rc, size)
	}
	buf := make([]byte, 256<<10)
	io.CopyBuffer(c.contentWriter(), src, buf)
}

// contentWriter counts body bytes into Stats.ContentBytes as they are
// written (counted before the write, so a client that has read the last
// byte already sees it counted). It also hides ReadFrom so that
// io.CopyBuffer really uses our bounded buffer.
func (c *call) contentWriter() io.Writer { return countingWriter{c} }

type countingWriter struct{ c *call }

func (o countingWriter) Write(p []byte) (int, error) {
	o.c.s.countContent(int64(len(p)))
	n, err := o.c.w.Write(p)
	if n < len(p) {
		o.c.s.countContent(int64(n - len(p)))
	}
	return n, err
}

// contentFail answers a /content failure: the action's bare rescue renders
// an empty 404 for JSON/XML, public/404.html for HTML, and respond_to
// raises UnknownFormat (401) for anything else (§3, §0).
func (c *call) contentFail() {
	switch c.format {
	case "json", "xml":
		c.head(http.StatusNotFound)
	case "html":
		c.w.Header().Set("Content-Type", "text/html; charset=utf-8")
		c.w.WriteHeader(http.StatusNotFound)
		c.w.Write([]byte("<!DOCTYPE html>\n<html><head><title>The page you were looking for doesn't exist (404)</title></head><body><h1>The page you were looking for doesn't exist.</h1></body></html>\n"))
	default:
		c.head(http.StatusUnauthorized)
	}
}

// recordNotFound is record_not_found for the send-file actions, whose
// request format may be anything.
func (c *call) recordNotFound(model string) {
	switch c.format {
	case "json", "xml":
		c.notFound(model, c.id)
	default:
		c.contentFail()
	}
}

// servable: content exists and the portal cache has it (§3).
func (s *Server) servable(f *userfile) bool {
	p := s.st.providers[f.dpID]
	return f.stored && p != nil && (!p.remote || f.cached)
}

// GET /userfiles/:id/content (§3).
func (s *Server) hContent(c *call) {
	s.mu.Lock()
	f := s.findReadable(c)
	if f == nil { // the bare rescue also catches RecordNotFound: empty 404
		s.mu.Unlock()
		c.contentFail()
		return
	}
	ok := s.servable(f)
	coll, root, name, ref := f.coll, f.data, f.name, refOf(f)
	s.mu.Unlock()

	if loader := c.get("content_loader"); loader != "" {
		if !coll || loader != "collection_file" || !ok {
			c.contentFail()
			return
		}
		arg := c.get("arguments")
		if l := c.list("arguments"); arg == "" && len(l) > 0 {
			arg = l[0]
		}
		p := collectionMember(root, name, arg)
		if p == "" {
			c.contentFail()
			return
		}
		c.sendFile(contentRef{data: p}, path.Base(p), "attachment")
		return
	}
	if coll || !ok { // send_file of a directory raises MissingFile -> 404
		c.contentFail()
		return
	}
	disp := c.get("disposition")
	if disp == "" {
		disp = "attachment"
	}
	c.sendFile(ref, name, disp)
}

// GET /userfiles/:id/stream/*path (§3, §12).
func (s *Server) hStream(c *call) {
	s.mu.Lock()
	f := s.findReadable(c)
	if f == nil {
		s.mu.Unlock()
		c.recordNotFound("Userfile")
		return
	}
	ok := s.servable(f)
	coll, root, name, ref := f.coll, f.data, f.name, refOf(f)
	s.mu.Unlock()
	c.w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")

	rel := path.Clean(c.rest)
	if strings.HasPrefix(c.rest, "/") || rel == ".." || strings.HasPrefix(rel, "../") {
		c.w.WriteHeader(http.StatusUnauthorized) // escapes the collection: head :unauthorized
		return
	}
	disp := c.get("disposition")
	if disp == "" {
		disp = "attachment"
	}
	if !ok {
		c.w.WriteHeader(http.StatusNotFound)
		return
	}
	if !coll {
		if rel != name {
			c.w.WriteHeader(http.StatusNotFound)
			return
		}
		c.sendFile(ref, name, disp)
		return
	}
	first, _, _ := strings.Cut(rel, "/")
	if first != name {
		c.w.WriteHeader(http.StatusUnauthorized)
		return
	}
	p := collectionMember(root, name, rel)
	if p == "" {
		c.w.WriteHeader(http.StatusNotFound)
		return
	}
	c.sendFile(contentRef{data: p}, path.Base(p), disp)
}
