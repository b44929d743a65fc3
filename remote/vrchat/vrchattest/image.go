package vrchattest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"  // also registers the format for image.DecodeConfig
	"image/jpeg" // likewise
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

// JPEG returns a w×h JPEG (quality 90) of PNG's pattern.
func JPEG(w, h int, seed int64) []byte {
	img, _ := png.Decode(bytes.NewReader(PNG(w, h, seed)))
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// GIF returns a w×h GIF of frames frames (an animation if more than one),
// each in the Plan9 palette.
func GIF(w, h int, seed int64, frames int) []byte {
	g := &gif.GIF{}
	for i := 0; i < frames; i++ {
		src, _ := png.Decode(bytes.NewReader(PNG(w, h, seed+int64(i))))
		p := image.NewPaletted(src.Bounds(), palette.Plan9)
		draw.Draw(p, p.Bounds(), src, image.Point{}, draw.Src)
		g.Image = append(g.Image, p)
		g.Delay = append(g.Delay, 10)
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, g); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// APNG returns PNG(w, h, seed) with an animation control chunk (acTL)
// after its header: an animated PNG as far as VRChat is concerned, still
// decodable by any PNG decoder (which skips the ancillary chunk).
func APNG(w, h int, seed int64) []byte {
	p := PNG(w, h, seed)
	const ihdrEnd = 8 + 8 + 13 + 4                          // signature, IHDR header, data, CRC
	chunk := []byte("acTL\x00\x00\x00\x02\x00\x00\x00\x00") // 2 frames, loop forever
	var out bytes.Buffer
	out.Write(p[:ihdrEnd])
	binary.Write(&out, binary.BigEndian, uint32(len(chunk)-4))
	out.Write(chunk)
	binary.Write(&out, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	out.Write(p[ihdrEnd:])
	return out.Bytes()
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
	if tag == "avatargallery" && fields["galleryId"] == "" {
		// [INF] VRCX sends galleryId (the avatar) with this tag
		// (src/api/avatar.js); the server's answer without it is unknown.
		c.error(http.StatusBadRequest, `"galleryId" is required for avatargallery`)
		return
	}
	format, ok := imageFormat(obj)
	switch {
	case !ok:
		c.error(http.StatusBadRequest, "You must upload a valid image!") // §5 (Wakamu/VRCEmoji#3)
		return
	case format == "png" && isAnimatedPNG(obj):
		c.error(http.StatusBadRequest, "Malformed PNG image data") // §5: APNG rejected (VRCX#1243)
		return
	case format != "png" && !s.opts.ImageAcceptsJPEGAndGIF:
		// [INF] the spec's file is "the binary blob of the png file"
		// (paths/files.yaml); the answer to another format is unknown.
		c.error(http.StatusBadRequest, "You must upload a valid image!")
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

// isAnimatedPNG reports whether a PNG has an acTL chunk before its image
// data (an APNG).
func isAnimatedPNG(o *object) bool {
	rs, cl, err := o.reader()
	if err != nil {
		return false
	}
	defer cl.Close()
	br := bufio.NewReader(rs)
	if _, err := br.Discard(8); err != nil {
		return false
	}
	for {
		var head [8]byte
		if _, err := io.ReadFull(br, head[:]); err != nil {
			return false
		}
		switch string(head[4:]) {
		case "acTL":
			return true
		case "IDAT", "IEND":
			return false
		}
		if _, err := br.Discard(int(binary.BigEndian.Uint32(head[:4])) + 4); err != nil {
			return false
		}
	}
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
