package vrchattest

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The data model (§2). Every field is guarded by Server.mu.

type file struct {
	id, name, ownerID, mimeType, extension string
	tags                                   []string
	versions                               []*version // versions[i].n == i (§2.2)
	animationStyle, maskTag, loopStyle     string     // /file/image only
	frames, framesOverTime                 int
}

type version struct {
	n          int
	status     string // complete, waiting, queued, error (§2.4)
	created    time.Time
	deleted    bool // the 2025-02-19 representation (§7)
	queuedLeft int  // GET /file/{id} polls left in "queued" (or "waiting" once settled); < 0: forever
	settled    bool // every entry became complete and the after-finish status was applied (completion.go)
	file       *part
	signature  *part
	delta      *part
}

// part is a FileData (§2.3) plus what the object store holds for it.
type part struct {
	f        *file
	v        *version
	kind     string // file, signature, delta
	fileName string // also the object key
	md5      string // declared, base64
	hasMD5   bool
	size     int64 // declared
	status   string
	category string // simple, multipart, queued (every category but simple is multipart)
	uploadID string
	// queuedLeft: GET /file/{id} polls left in "queued" after the
	// finish (Options.EntryQueuedPolls).
	queuedLeft int

	obj       *object         // the finished object, served by GET s3
	staged    *object         // a simple PUT received, not finished yet
	uploads   map[int]*object // multipart parts by number
	finishing bool            // a finish is assembling the parts
}

func (v *version) parts() []*part {
	var ps []*part
	for _, p := range []*part{v.file, v.signature, v.delta} {
		if p != nil {
			ps = append(ps, p)
		}
	}
	return ps
}

func (v *version) partOf(kind string) *part {
	switch kind {
	case "file":
		return v.file
	case "signature":
		return v.signature
	case "delta":
		return v.delta
	}
	return nil
}

// formatTime is created_at: RFC 3339 with milliseconds and Z (§2.2).
func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

var fileIDRe = regexp.MustCompile(`^file_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// normExtension adds the leading dot the server adds ("A" → ".A", §2.1).
func normExtension(ext string) string {
	if ext == "" || strings.HasPrefix(ext, ".") {
		return ext
	}
	return "." + ext
}

var wordRe = regexp.MustCompile(`[A-Za-z0-9]+`)

// sanitizeName: the exact rule is [?] (§2.3). This one reproduces both
// observations ("string" → "string"; "Avatar - Test Avatar - Unity
// package …" → "Avatar-Test-Avatar-Unity"): alphanumeric words joined by
// '-', cut to 24 characters.
func sanitizeName(name string) string {
	s := strings.Join(wordRe.FindAllString(name, -1), "-")
	if len(s) > 24 {
		s = strings.TrimRight(s[:24], "-")
	}
	if s == "" {
		s = "file"
	}
	return s
}

// partFileName is "<sanitized>.<fileId>.<v>.<ext>" (+".signature"/".delta").
func partFileName(f *file, v int, kind string) string {
	n := sanitizeName(f.name) + "." + f.id + "." + strconv.Itoa(v) + "." + strings.TrimPrefix(f.extension, ".")
	if kind != "file" {
		n += "." + kind
	}
	return n
}

// contentTypeOf is the Content-Type a simple PUT of the part must carry
// (§4.2).
func contentTypeOf(p *part) string {
	switch p.kind {
	case "signature":
		return "application/x-rsync-signature"
	case "delta":
		return "application/x-rsync-delta"
	}
	return p.f.mimeType
}

// ---- JSON (keys sorted like the live API's) ----

type fileJSON struct {
	AnimationStyle string        `json:"animationStyle,omitempty"`
	Extension      string        `json:"extension"`
	Frames         int           `json:"frames,omitempty"`
	FramesOverTime int           `json:"framesOverTime,omitempty"`
	ID             string        `json:"id"`
	LoopStyle      string        `json:"loopStyle,omitempty"`
	MaskTag        string        `json:"maskTag,omitempty"`
	MimeType       string        `json:"mimeType"`
	Name           string        `json:"name"`
	OwnerID        string        `json:"ownerId"`
	Tags           []string      `json:"tags"`
	Versions       []versionJSON `json:"versions"`
}

type versionJSON struct {
	CreatedAt string    `json:"created_at"`
	Deleted   bool      `json:"deleted,omitempty"`
	Delta     *partJSON `json:"delta,omitempty"`
	File      *partJSON `json:"file,omitempty"`
	Signature *partJSON `json:"signature,omitempty"`
	Status    string    `json:"status"`
	Version   int       `json:"version"`
}

type partJSON struct {
	Category    string `json:"category"`
	FileName    string `json:"fileName"`
	MD5         string `json:"md5,omitempty"`
	SizeInBytes int64  `json:"sizeInBytes"`
	Status      string `json:"status"`
	UploadID    string `json:"uploadId"`
	URL         string `json:"url"`
}

func (s *Server) fileJSONLocked(f *file) fileJSON {
	j := fileJSON{
		AnimationStyle: f.animationStyle, Extension: f.extension, Frames: f.frames, FramesOverTime: f.framesOverTime,
		ID: f.id, LoopStyle: f.loopStyle, MaskTag: f.maskTag, MimeType: f.mimeType, Name: f.name, OwnerID: f.ownerID,
		Tags: append([]string{}, f.tags...), Versions: make([]versionJSON, 0, len(f.versions)),
	}
	for _, v := range f.versions {
		j.Versions = append(j.Versions, versionJSON{
			CreatedAt: formatTime(v.created), Deleted: v.deleted, Status: v.status, Version: v.n,
			File: s.partJSONLocked(v.file), Signature: s.partJSONLocked(v.signature), Delta: s.partJSONLocked(v.delta),
		})
	}
	return j
}

func (s *Server) partJSONLocked(p *part) *partJSON {
	if p == nil {
		return nil
	}
	j := &partJSON{Category: p.category, FileName: p.fileName, SizeInBytes: p.size, Status: p.status, UploadID: p.uploadID,
		URL: s.apiURL + "/file/" + p.f.id + "/" + strconv.Itoa(p.v.n) + "/" + p.kind}
	if p.hasMD5 {
		j.MD5 = p.md5
	}
	return j
}
