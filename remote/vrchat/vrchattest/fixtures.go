package vrchattest

import (
	"bytes"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
)

// VersionSpec describes one version created by AddFile or AddVersion.
type VersionSpec struct {
	// The data: Content, or Source+Size (generated on demand, e.g. 1 GiB
	// from DeterministicContent). Content is copied to disk.
	Content []byte
	Source  io.ReaderAt
	Size    int64
	// Status is the version's status: "complete" (default), "waiting"
	// (declared, not uploaded: the parts are waiting and have no object),
	// "queued" (uploaded, processing forever: parts complete) or "error"
	// (parts complete).
	Status string
	// Deleted keeps the version in versions[] with "deleted": true (the
	// older representation, §7).
	Deleted bool
	// BadMD5 declares a wrong FileData.md5 (to test client-side MD5
	// verification).
	BadMD5 bool
	// NoMD5 omits md5 on the parts (as for /file/image uploads).
	NoMD5 bool
	// NoSignature creates no signature part (as for /file/image uploads).
	NoSignature bool
}

// FileSpec describes a File created by AddFile.
type FileSpec struct {
	OwnerID, Name, MimeType, Extension string // Extension gets a leading dot if missing
	Tags                               []string
	Versions                           []VersionSpec
}

// sdkMIME is the SDK's extension → mime mapping (§2.5), used when
// FileSpec.MimeType is empty.
var sdkMIME = map[string]string{
	".vrcw": "application/x-world", ".vrca": "application/x-avatar", ".vrcp": "application/x-prop",
	".unitypackage": "application/gzip", ".gz": "application/gzip", ".png": "image/png", ".jpg": "image/jpg",
	".sig": "application/x-rsync-signature", ".delta": "application/x-rsync-delta",
}

// AddFile creates a File with version 0 plus one version per VersionSpec
// (numbers 1..n) and returns its id. It panics if a content cannot be
// written (a test fixture).
func (s *Server) AddFile(f FileSpec) (fileID string) {
	ext := normExtension(f.Extension)
	if ext == "" {
		ext = normExtension(strings.TrimPrefix(path.Ext(f.Name), "."))
	}
	mime := f.MimeType
	if mime == "" {
		if mime = sdkMIME[strings.ToLower(ext)]; mime == "" {
			mime = "application/octet-stream"
		}
	}
	s.mu.Lock()
	fl := s.newFileLocked(f.OwnerID, f.Name, mime, ext, f.Tags)
	s.mu.Unlock()
	for _, v := range f.Versions {
		s.AddVersion(fl.id, v)
	}
	return fl.id
}

// AddVersion appends a version to a File and returns its number (-1 if
// the File does not exist).
func (s *Server) AddVersion(fileID string, vs VersionSpec) int {
	var src io.ReaderAt
	size := vs.Size
	switch {
	case vs.Source != nil:
		src = vs.Source
	default:
		src, size = bytes.NewReader(vs.Content), int64(len(vs.Content))
	}
	status := vs.Status
	if status == "" {
		status = "complete"
	}
	var fileObj, sigObj *object
	var err error
	if vs.Source != nil {
		fileObj, err = generatedObject(src, size)
	} else {
		fileObj, err = s.writeFixture(vs.Content)
	}
	if err != nil {
		panic(fmt.Sprintf("vrchattest.AddVersion: %v", err))
	}
	if !vs.NoSignature {
		sig := placeholderSignature(size, int64(fileObj.md5[0])<<8|int64(fileObj.md5[1]))
		if vs.Source != nil {
			sigObj, err = generatedObject(sig, sigSize(size))
		} else {
			sigObj, err = s.writeFixture(readAll(sig, sigSize(size)))
		}
		if err != nil {
			panic(fmt.Sprintf("vrchattest.AddVersion: %v", err))
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.st.files[fileID]
	if f == nil {
		fileObj.remove()
		sigObj.remove()
		return -1
	}
	v := &version{n: len(f.versions), status: status, created: time.Now(), deleted: vs.Deleted}
	if status == "queued" {
		v.queuedLeft = -1
	}
	mk := func(kind string, o *object) *part {
		d := declared{md5: o.md5Base64(), size: o.size}
		p := s.newPart(f, v, kind, d)
		if kind == "file" && vs.BadMD5 {
			bad := o.md5
			bad[0] ^= 0xff
			p.md5 = (&object{md5: bad}).md5Base64()
		}
		p.hasMD5 = !vs.NoMD5
		if status == "waiting" {
			o.remove()
			return p
		}
		p.status = "complete"
		if p.multipart() {
			p.uploadID = newUploadID()
		}
		o.contentType = contentTypeOf(p)
		p.obj = o
		return p
	}
	v.file = mk("file", fileObj)
	if sigObj != nil {
		v.signature = mk("signature", sigObj)
	}
	f.versions = append(f.versions, v)
	s.indexPartsLocked(v)
	return v.n
}

// writeFixture stores b on disk as a new object.
func (s *Server) writeFixture(b []byte) (*object, error) {
	s.mu.Lock()
	gen := s.nextGenLocked()
	s.mu.Unlock()
	return s.writeObject("objects", gen, bytes.NewReader(b))
}
