package vrchat_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"

	"github.com/filesmount/filesmount/remote"
	"github.com/filesmount/filesmount/remote/vrchat/vrchattest"
)

func tagDir(tag string) remote.Entry {
	return remote.Entry{ID: "tag/" + tag, Name: tag, IsDir: true}
}

// Only the ImagePurpose tags that need nothing more take images; the
// others are refused at create with EPERM (ErrNotPermitted).
func TestTagViewsTakingImages(t *testing.T) {
	env := newWriteEnv(t, vrchattest.Options{}, fastUploads)
	for _, tag := range []string{"admin", "avatarimage", "bundle", "emoji", "gallery", "icon", "listinggallery", "product", "sticker"} {
		if err := env.store.CheckName(tagDir(tag), "x.png"); err != nil {
			t.Errorf("tag %s: %v", tag, err)
		}
	}
	for tag, why := range map[string]string{"avatargallery": "galleryId", "emojianimated": "sprite sheet", "worldimage": "image purposes", "mine": "image purposes"} {
		err := env.store.CheckName(tagDir(tag), "x.png")
		if !errors.Is(err, remote.ErrNotPermitted) || !strings.Contains(err.Error(), why) {
			t.Errorf("tag %s: %v, want ErrNotPermitted saying %q", tag, err, why)
		}
	}
	if err := env.store.CheckName(tagDir("gallery"), "x.webp"); !errors.Is(err, remote.ErrInvalid) {
		t.Errorf("x.webp: %v", err)
	}
}

// pixels decodes an image into NRGBA, to compare pixels whatever the
// encoding.
func pixels(t *testing.T, b []byte, decode func([]byte) (image.Image, error)) *image.NRGBA {
	t.Helper()
	img, err := decode(b)
	if err != nil {
		t.Fatal(err)
	}
	out := image.NewNRGBA(img.Bounds())
	draw.Draw(out, out.Bounds(), img, img.Bounds().Min, draw.Src)
	return out
}

func decodePNG(b []byte) (image.Image, error)  { return png.Decode(bytes.NewReader(b)) }
func decodeJPEG(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) }
func decodeGIF(b []byte) (image.Image, error)  { return gif.Decode(bytes.NewReader(b)) }

// A PNG is uploaded as it is; a JPEG and a still GIF are converted to a
// PNG of the same pixels (what the emulator's default, PNG only, takes);
// animated images and non-images are refused with EINVAL before any
// request.
func TestImagesConvertedToPNG(t *testing.T) {
	for _, accepts := range []bool{false, true} {
		t.Run(fmt.Sprintf("ImageAcceptsJPEGAndGIF=%v", accepts), func(t *testing.T) {
			env := newWriteEnv(t, vrchattest.Options{ImageAcceptsJPEGAndGIF: accepts}, fastUploads)
			ctx := context.Background()
			pngData, jpegData, gifData := vrchattest.PNG(20, 12, 1), vrchattest.JPEG(20, 12, 2), vrchattest.GIF(20, 12, 3, 1)
			for _, tc := range []struct {
				name   string
				data   []byte
				decode func([]byte) (image.Image, error)
			}{{"a.png", pngData, decodePNG}, {"b.jpg", jpegData, decodeJPEG}, {"c.JPEG", jpegData, decodeJPEG}, {"d.gif", gifData, decodeGIF}} {
				e, err := env.store.Upload(ctx, tagDir("gallery"), tc.name, source(tc.data), nil)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if e.Name != "1.png" {
					t.Errorf("%s landed as %q", tc.name, e.Name)
				}
				got := env.readAll(t, e)
				if tc.name == "a.png" && !bytes.Equal(got, pngData) {
					t.Error("a PNG was not uploaded as it is")
				}
				if !bytes.Equal(pixels(t, got, decodePNG).Pix, pixels(t, tc.data, tc.decode).Pix) {
					t.Errorf("%s: the PNG uploaded has other pixels", tc.name)
				}
			}
			env.srv.ResetStats()
			for name, data := range map[string][]byte{
				"anim.gif": vrchattest.GIF(8, 8, 4, 3), "anim.png": vrchattest.APNG(8, 8, 5),
				"text.png": []byte("not an image at all"), "cut.jpg": jpegData[:len(jpegData)/2],
			} {
				_, err := env.store.Upload(ctx, tagDir("gallery"), name, source(data), nil)
				if !errors.Is(err, remote.ErrInvalid) {
					t.Errorf("%s: %v, want ErrInvalid", name, err)
				}
			}
			if n := env.srv.Stats().Requests; n != 0 {
				t.Errorf("refused images made %d requests", n)
			}
		})
	}
}
