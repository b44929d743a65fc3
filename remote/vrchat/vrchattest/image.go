package vrchattest

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif"  // image.DecodeConfig formats for /file/image
	_ "image/jpeg" // (registers the format)
	"image/png"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// PNG returns a valid w×h PNG whose pixels depend on seed.
func PNG(w, h int, seed int64) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	x := uint64(seed)
	for py := 0; py < h; py++ {
		for px := 0; px < w; px++ {
			x = splitmix(x)
			img.SetNRGBA(px, py, color.NRGBA{
				R: uint8(px * 255 / max(w, 1)), G: uint8(py * 255 / max(h, 1)), B: uint8(x), A: 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// maxImageUpload caps the /file/image body [INF]: VRCX's front-end cap is
// 20 MB (§5); the server's limit is unknown.
const maxImageUpload = 32 << 20

// POST /file/image (multipart/form-data: file, tag, animationStyle?,
// maskTag?, frames?, framesOverTime?, loopStyle?) → a File tagged [tag]
// with one complete version: a simple file part, no md5, no signature
// (§5, §10). The tag is an open set (VRCX sends values outside the enum).
func (s *Server) hUploadImage(c *call) {
	c.r.Body = http.MaxBytesReader(c.w, c.r.Body, maxImageUpload)
	mr, err := c.r.MultipartReader()
	if err != nil {
		c.error(http.StatusBadRequest, "Expected a multipart/form-data body")
		return
	}
	fields := map[string]string{}
	var obj *object
	defer func() { obj.remove() }() // unless published (set to nil)
	for {
		pt, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			c.error(http.StatusBadRequest, "Malformed multipart body")
			return
		}
		if pt.FormName() == "file" && obj == nil {
			s.mu.Lock()
			gen := s.nextGenLocked()
			s.mu.Unlock()
			obj, err = s.writeObject("objects", gen, pt)
			if err != nil {
				c.error(http.StatusBadRequest, "Malformed multipart body")
				return
			}
			continue
		}
		b, _ := io.ReadAll(io.LimitReader(pt, 4096))
		fields[pt.FormName()] = string(b)
	}
	if obj == nil {
		c.error(http.StatusBadRequest, `"file" is required`)
		return
	}
	tag := fields["tag"]
	if tag == "" {
		c.error(http.StatusBadRequest, `"tag" is required`)
		return
	}
	format, ok := imageFormat(obj)
	if !ok {
		c.error(http.StatusBadRequest, "You must upload a valid image!") // §5
		return
	}
	frames, fot := 0, 0
	for name, dst := range map[string]*int{"frames": &frames, "framesOverTime": &fot} {
		if v, ok := fields[name]; ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 64 || (name == "frames" && n < 2) {
				c.error(http.StatusBadRequest, fmt.Sprintf("%q is out of range", name))
				return
			}
			*dst = n
		}
	}
	if tag == "emojianimated" && (frames == 0 || fot == 0) {
		c.error(http.StatusBadRequest, `"frames" and "framesOverTime" are required for emojianimated`)
		return
	}
	obj.contentType = "image/" + format

	s.mu.Lock()
	u := s.st.users[c.sess.userID]
	// [INF] the live naming of image Files is not documented.
	name := fmt.Sprintf("%s - %s - %s", strings.ToUpper(tag[:1])+tag[1:], u.displayName, time.Now().UTC().Format("2006-01-02 15:04:05"))
	f := s.newFileLocked(u.id, name, "image/"+format, "."+format, []string{tag})
	f.animationStyle, f.maskTag, f.loopStyle = fields["animationStyle"], fields["maskTag"], fields["loopStyle"]
	f.frames, f.framesOverTime = frames, fot
	v := &version{n: 1, status: "complete", created: time.Now()}
	v.file = &part{f: f, v: v, kind: "file", fileName: partFileName(f, 1, "file"), size: obj.size,
		status: "complete", category: "simple", obj: obj}
	f.versions = append(f.versions, v)
	s.indexPartsLocked(v)
	obj = nil
	j := s.fileJSONLocked(f)
	s.mu.Unlock()
	c.json(http.StatusOK, j)
}

// imageFormat sniffs a PNG, JPEG or GIF.
func imageFormat(o *object) (string, bool) {
	rs, cl, err := o.reader()
	if err != nil {
		return "", false
	}
	defer cl.Close()
	_, format, err := image.DecodeConfig(rs)
	if err != nil {
		return "", false
	}
	return format, true
}
