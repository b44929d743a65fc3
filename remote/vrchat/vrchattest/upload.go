package vrchattest

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
)

// The upload protocol (§4): start → pre-signed PUT(s) → finish, and the
// status endpoint of multipart uploads.

// uploadTargetLocked resolves {id}/{v}/{type} for the owner.
func (s *Server) uploadTargetLocked(c *call) (*part, int, string) {
	f, st, msg := s.ownedFileLocked(c)
	if f == nil {
		return nil, st, msg
	}
	if c.v >= len(f.versions) {
		return nil, http.StatusNotFound, "File version not found" // [INF]
	}
	v := f.versions[c.v]
	if v.n == 0 || v.status != "waiting" {
		return nil, http.StatusBadRequest, msgCannotUpload
	}
	p := v.partOf(c.typ)
	if p == nil {
		return nil, http.StatusNotFound, msgVersionTypeNotFound // [INF] part not declared
	}
	if p.status != "waiting" {
		return nil, http.StatusBadRequest, msgCannotUpload
	}
	return p, 0, ""
}

// PUT /file/{id}/{v}/{type}/start[?partNumber=N] → {"url": pre-signed PUT}.
// simple: signed with the declared Content-MD5 and the part's
// Content-Type; partNumber is ignored [INF]. multipart: partNumber
// defaults to 1 ("first partNumber is always 1", §3), the uploadId is
// created on the first start, and the URL is signed without Content-MD5
// and Content-Type.
func (s *Server) hStart(c *call) {
	partNumber := 1
	if q := c.r.URL.Query(); q.Has("partNumber") {
		n, err := strconv.Atoi(q.Get("partNumber"))
		if err != nil || n < 1 || n > 10000 {
			c.error(http.StatusBadRequest, `"partNumber" must be an integer between 1 and 10000`) // [INF]
			return
		}
		partNumber = n
	}
	s.mu.Lock()
	p, st, msg := s.uploadTargetLocked(c)
	if p == nil {
		s.mu.Unlock()
		c.error(st, msg)
		return
	}
	var u string
	if p.multipart() {
		if p.uploadID == "" {
			p.uploadID = newUploadID()
		}
		u = s.presignLocked(http.MethodPut, p.fileName, "", "", partNumber, p.uploadID)
	} else {
		u = s.presignLocked(http.MethodPut, p.fileName, p.md5, contentTypeOf(p), 0, "")
	}
	s.mu.Unlock()
	c.json(http.StatusOK, map[string]string{"url": u})
}

// newUploadID looks like an S3 UploadId.
func newUploadID() string {
	return strings.ReplaceAll(strings.ReplaceAll(newTwoFactorToken()+newTwoFactorToken(), "-", "."), "_", ".")
}

// finishBody accepts every variant of §4.4: no body, {} ,
// {"maxParts":0,"nextPartNumber":0} (numbers or strings), {"etags":[...]}.
func parseFinishBody(r io.Reader) (etags []string, hasEtags bool, err error) {
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, false, err
	}
	if strings.TrimSpace(string(b)) == "" {
		return nil, false, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, false, fmt.Errorf("body must be a JSON object")
	}
	e, ok := raw["etags"]
	if !ok {
		return nil, false, nil
	}
	if err := json.Unmarshal(e, &etags); err != nil {
		return nil, false, fmt.Errorf(`"etags" must be an array of strings`)
	}
	for i, t := range etags {
		etags[i] = strings.Trim(t, `"'`)
	}
	return etags, true, nil
}

// PUT /file/{id}/{v}/{type}/finish → File. The part becomes "complete"
// once its object is checked against the declared size and MD5; the
// version is settled when all its parts are (completion.go). Mismatches → 400 with a message saying what
// differs [INF].
func (s *Server) hFinish(c *call) {
	etags, hasEtags, err := parseFinishBody(c.r.Body)
	if err != nil {
		c.error(http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	p, st, msg := s.uploadTargetLocked(c)
	if p == nil {
		s.mu.Unlock()
		c.error(st, msg)
		return
	}
	if p.finishing {
		s.mu.Unlock()
		c.error(http.StatusConflict, "An upload finish is already in progress for this file version") // [INF]
		return
	}
	if !p.multipart() {
		// [INF] etags, if any, are ignored for simple parts.
		o := p.staged
		if o == nil {
			s.mu.Unlock()
			c.error(http.StatusBadRequest, "The file has not been uploaded yet")
			return
		}
		if m := checkDeclared(p, o); m != "" {
			p.staged = nil
			s.mu.Unlock()
			o.remove()
			c.error(http.StatusBadRequest, m)
			return
		}
		p.staged = nil
		s.completePartLocked(p, o)
		j := s.fileJSONLocked(p.f)
		s.mu.Unlock()
		c.json(http.StatusOK, j)
		return
	}

	// multipart: the S3 CompleteMultipartUpload rules.
	if !hasEtags || len(etags) == 0 {
		s.mu.Unlock()
		c.error(http.StatusBadRequest, `"etags" are required to finish a multipart upload`)
		return
	}
	parts := make([]*object, len(etags))
	for i, e := range etags {
		o := p.uploads[i+1]
		switch {
		case o == nil:
			msg = fmt.Sprintf("InvalidPart: part %d has not been uploaded", i+1)
		case !strings.EqualFold(e, o.md5Hex()):
			msg = fmt.Sprintf("InvalidPart: etag %q does not match part %d (%s)", e, i+1, o.md5Hex())
		case i < len(etags)-1 && o.size < s.opts.MinPartSize:
			msg = fmt.Sprintf("EntityTooSmall: part %d is %d bytes, below the minimum allowed size of %d", i+1, o.size, s.opts.MinPartSize)
		}
		if msg != "" {
			s.mu.Unlock()
			c.error(http.StatusBadRequest, msg)
			return
		}
		parts[i] = o
	}
	p.finishing = true
	gen := s.nextGenLocked()
	uploadID := p.uploadID
	s.mu.Unlock()

	o, err := s.assemble(gen, parts)

	s.mu.Lock()
	p.finishing = false
	if s.st.objects[p.fileName] != p || p.status != "waiting" || p.uploadID != uploadID {
		s.mu.Unlock()
		o.remove()
		c.error(http.StatusNotFound, msgFileNotFound) // deleted meanwhile
		return
	}
	if err != nil {
		s.mu.Unlock()
		c.error(http.StatusInternalServerError, "Could not assemble the upload: "+err.Error())
		return
	}
	// S3 has completed the upload either way: its parts are gone.
	var used []*object
	for _, u := range p.uploads {
		used = append(used, u)
	}
	p.uploads, p.uploadID = nil, ""
	if m := checkDeclared(p, o); m != "" {
		s.mu.Unlock()
		removeAll(used)
		o.remove()
		c.error(http.StatusBadRequest, m)
		return
	}
	s.completePartLocked(p, o)
	j := s.fileJSONLocked(p.f)
	s.mu.Unlock()
	removeAll(used)
	c.json(http.StatusOK, j)
}

// checkDeclared compares an object with the part's declared size and MD5.
func checkDeclared(p *part, o *object) string {
	if o.size != p.size {
		return fmt.Sprintf("Uploaded %s size %d does not match the declared size %d", p.kind, o.size, p.size)
	}
	if p.hasMD5 && o.md5Base64() != p.md5 {
		return fmt.Sprintf("Uploaded %s md5 %s does not match the declared md5 %s", p.kind, o.md5Base64(), p.md5)
	}
	return ""
}

// assemble concatenates the parts into a new object; its ETag is S3's
// multipart form "<md5 of the part md5s>-<n>".
func (s *Server) assemble(gen int64, parts []*object) (*object, error) {
	pr, pw := io.Pipe()
	go func() {
		for _, o := range parts {
			fh, err := os.Open(o.path)
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			_, err = io.CopyBuffer(pw, onlyReader{fh}, make([]byte, copyBufSize))
			fh.Close()
			if err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.Close()
	}()
	o, err := s.writeObject("objects", gen, pr)
	pr.Close()
	if err != nil {
		return nil, err
	}
	h := md5.New()
	for _, p := range parts {
		h.Write(p.md5[:])
	}
	o.etag = `"` + hex.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(parts)) + `"`
	return o, nil
}

// uploadStatus is FileVersionUploadStatus (§2.6).
type uploadStatus struct {
	UploadID       string   `json:"uploadId"`
	FileName       string   `json:"fileName"`
	NextPartNumber int      `json:"nextPartNumber"`
	MaxParts       int      `json:"maxParts"`
	Parts          []any    `json:"parts"`
	Etags          []string `json:"etags"`
}

// GET /file/{id}/{v}/{type}/status while the part is waiting:
// nextPartNumber = the number of parts stored (1..k contiguous), etags =
// their unquoted ETags (§2.6, §10). On a part that is not waiting the
// live server times out (§3); the emulator answers 504 at once [INF].
func (s *Server) hUploadStatus(c *call) {
	s.mu.Lock()
	p, st, msg := s.uploadTargetLocked(c)
	if p == nil {
		s.mu.Unlock()
		if msg == msgCannotUpload {
			c.error(http.StatusGatewayTimeout, "Gateway Timeout")
			return
		}
		c.error(st, msg)
		return
	}
	us := uploadStatus{UploadID: p.uploadID, FileName: p.fileName, MaxParts: 1000, Parts: []any{}, Etags: []string{}}
	for n := 1; p.uploads[n] != nil; n++ {
		us.NextPartNumber = n
		us.Etags = append(us.Etags, p.uploads[n].md5Hex())
	}
	s.mu.Unlock()
	c.json(http.StatusOK, us)
}
