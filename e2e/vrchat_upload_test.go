//go:build linux

package e2e

import (
	"bytes"
	"crypto/md5"
	"fmt"
	"image"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/filesmount/filesmount/remote/vrchat/vrchattest"
)

// waitForFile waits (bounded) for an asynchronous effect: a file at path.
func waitForFile(t *testing.T, path string) []byte {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared: %v", path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// VRChat failing to process an entry of an upload (status "error") fails
// the close with EIO and one log line; the data is kept, byte for byte,
// in the recovery folder, and copying it back in lands as a new version
// (the errored one is replaced). Under each plausible version-level
// status after a finish.
func TestVRChatUploadEntryErrorKeepsData(t *testing.T) {
	for _, status := range []string{vrchattest.VersionComplete, vrchattest.VersionQueued, vrchattest.VersionWaiting} {
		t.Run(status, func(t *testing.T) {
			env := mountVRChatWith(t, vrchattest.Options{VersionStatusAfterFinish: status}, nil)
			src := filepath.Join(t.TempDir(), "shot.png")
			data := vrchattest.PNG(40, 40, 7)
			os.WriteFile(src, data, 0o644)
			dir := filepath.Join(env.dir, "Shots")
			run(t, "mkdir", dir)

			env.srv.SetEntryError("signature")
			out, err := command("cp", src, dir)
			if err == nil || !strings.Contains(out, "Input/output error") {
				t.Fatalf("cp with an errored entry: %v %q, want EIO at close", err, out)
			}
			logs := env.logs.String()
			var lines []string
			for _, l := range strings.Split(logs, "\n") {
				if strings.Contains(l, "VRChat failed to process the signature") {
					lines = append(lines, l)
				}
			}
			if len(lines) != 1 || !strings.Contains(lines[0], "(EIO)") {
				t.Errorf("want one EIO line naming the errored entry, got %q\n%s", lines, logs)
			}
			kept := filepath.Join(env.m.cacheDir, "recovery", "vrchat", "Shots", "shot.png")
			if got := waitForFile(t, kept); !bytes.Equal(got, data) {
				t.Fatalf("recovery copy differs: %d bytes, want %d", len(got), len(data))
			}

			env.srv.SetEntryError("")
			run(t, "cp", kept, dir)
			if got := lsNames(t, dir); got != "1.png latest.png" {
				t.Errorf("after copying the kept data back: %q", got)
			}
			run(t, "cmp", src, filepath.Join(dir, "1.png"))
		})
	}
}

// Images written into tag views, through the mount: a PNG lands as it
// is, a JPEG and a still GIF as PNGs of the same pixels (the emulator
// takes PNG only, as the spec says); an animated GIF is refused with
// EINVAL, and tags VRChat takes no plain upload for with EPERM, each with
// one log line.
func TestVRChatTagViewImages(t *testing.T) {
	env := mountVRChatWith(t, vrchattest.Options{}, func(srv *vrchattest.Server, user string) {
		// Files with tags that have views but take no upload here.
		for _, tag := range []string{"avatargallery", "emojianimated", "worldimage"} {
			srv.AddFile(vrchattest.FileSpec{OwnerID: user, Name: "Seen " + tag, MimeType: "image/png", Extension: ".png", Tags: []string{tag},
				Versions: []vrchattest.VersionSpec{{Content: vrchattest.PNG(4, 4, 9), NoMD5: true, NoSignature: true}}})
		}
	})
	src := t.TempDir()
	files := map[string][]byte{
		"a.png": vrchattest.PNG(30, 20, 1), "b.jpg": vrchattest.JPEG(30, 20, 2), "c.gif": vrchattest.GIF(30, 20, 3, 1),
		"anim.gif": vrchattest.GIF(10, 10, 4, 3),
	}
	for name, b := range files {
		os.WriteFile(filepath.Join(src, name), b, 0o644)
	}
	gallery := filepath.Join(env.dir, "tags", "gallery")
	for _, name := range []string{"a.png", "b.jpg", "c.gif"} {
		run(t, "cp", filepath.Join(src, name), gallery)
	}
	// Each became a File of its own, holding 1.png.
	var pngs [][]byte
	entries, err := os.ReadDir(gallery)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(gallery, e.Name(), "1.png"))
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		pngs = append(pngs, b)
	}
	if len(pngs) != 3 {
		t.Fatalf("tags/gallery holds %d images, want 3: %v", len(pngs), entries)
	}
	for _, tc := range []struct {
		name   string
		decode func([]byte) (image.Image, error)
	}{{"a.png", decodePNG}, {"b.jpg", decodeJPEG}, {"c.gif", decodeGIF}} {
		want := samePixels(t, files[tc.name], tc.decode)
		found := false
		for _, p := range pngs {
			if samePixels(t, p, decodePNG) == want {
				found = true
			}
		}
		if !found {
			t.Errorf("no image in tags/gallery has the pixels of %s", tc.name)
		}
	}

	out, err := command("cp", filepath.Join(src, "anim.gif"), gallery)
	if err == nil || !strings.Contains(out, "Invalid argument") {
		t.Errorf("animated GIF: %v %q", err, out)
	}
	for _, tag := range []string{"avatargallery", "emojianimated", "worldimage"} {
		out, err := command("cp", filepath.Join(src, "a.png"), filepath.Join(env.dir, "tags", tag))
		if err == nil || !strings.Contains(out, "Operation not permitted") {
			t.Errorf("cp into tags/%s: %v %q", tag, err, out)
		}
	}
	logs := env.logs.String()
	for _, want := range []string{"animated GIF", "galleryId", "framesOverTime", `tag "worldimage"`} {
		if n := strings.Count(logs, want); n != 1 {
			t.Errorf("%d log lines say %q, want 1\n%s", n, want, logs)
		}
	}
	if n := env.srv.Stats().ByRoute["POST /file/image"]; n != 3 {
		t.Errorf("%d image uploads, want 3", n)
	}
}

// samePixels is a digest of an image's pixels (as NRGBA), to compare
// images whatever their encoding.
func samePixels(t *testing.T, b []byte, decode func([]byte) (image.Image, error)) string {
	t.Helper()
	img, err := decode(b)
	if err != nil {
		t.Fatal(err)
	}
	out := image.NewNRGBA(img.Bounds())
	draw.Draw(out, out.Bounds(), img, img.Bounds().Min, draw.Src)
	return fmt.Sprintf("%v %x", out.Bounds(), md5.Sum(out.Pix))
}

func decodePNG(b []byte) (image.Image, error)  { return png.Decode(bytes.NewReader(b)) }
func decodeJPEG(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) }
func decodeGIF(b []byte) (image.Image, error)  { return gif.Decode(bytes.NewReader(b)) }
