package vrchattest

import (
	"bytes"
	"io"
	"mime/multipart"
	"testing"
)

func imageForm(content []byte, fields ...string) (io.Reader, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := 0; i < len(fields); i += 2 {
		mw.WriteField(fields[i], fields[i+1])
	}
	fw, _ := mw.CreateFormFile("file", "blob")
	fw.Write(content)
	mw.Close()
	return &buf, mw.FormDataContentType()
}

// POST /file/image takes PNG only by default (the spec's "png file");
// JPEG and GIF with ImageAcceptsJPEGAndGIF; never an APNG; avatargallery
// only with a galleryId.
func TestImageFormats(t *testing.T) {
	const invalid = `{"error":{"message":"You must upload a valid image!","status_code":400}}`
	for _, accepts := range []bool{false, true} {
		s := newServer(t, func(o *Options) { o.ImageAcceptsJPEGAndGIF = accepts })
		_, auth := loggedIn(t, s)
		post := func(content []byte, fields ...string) (int, string) {
			body, ct := imageForm(content, fields...)
			resp, b := do(t, "POST", s.URL()+"/file/image", body, auth, header("Content-Type", ct))
			return resp.StatusCode, string(b)
		}
		if code, b := post(PNG(8, 8, 1), "tag", "icon"); code != 200 {
			t.Errorf("PNG: %d %s", code, b)
		}
		for name, img := range map[string][]byte{"JPEG": JPEG(8, 8, 1), "GIF": GIF(8, 8, 1, 1)} {
			code, b := post(img, "tag", "gallery")
			if accepts && code != 200 || !accepts && (code != 400 || b != invalid) {
				t.Errorf("%s with ImageAcceptsJPEGAndGIF=%v: %d %s", name, accepts, code, b)
			}
		}
		if code, b := post(APNG(8, 8, 1), "tag", "gallery"); code != 400 || b != `{"error":{"message":"Malformed PNG image data","status_code":400}}` {
			t.Errorf("APNG: %d %s", code, b)
		}
		if code, b := post(PNG(8, 8, 1), "tag", "avatargallery"); code != 400 {
			t.Errorf("avatargallery without galleryId: %d %s", code, b)
		}
		if code, b := post(PNG(8, 8, 1), "tag", "avatargallery", "galleryId", "avtr_"+newUUID()); code != 200 {
			t.Errorf("avatargallery with galleryId: %d %s", code, b)
		}
	}
}
