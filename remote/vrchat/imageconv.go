package vrchat

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"github.com/filesmount/filesmount/remote"
)

// What POST /file/image is sent. The spec describes its file as "the
// binary blob of the png file" (paths/files.yaml), and VRCX always sends
// image/png (src/coordinators/imageUploadCoordinator.js): so a PNG goes
// as it is, and a JPEG or a single-frame GIF is converted to PNG with the
// standard library (same pixels; JPEG's are decoded once, as any viewer
// does). Animated images are refused: VRChat rejects APNG ("Malformed PNG
// image data", VRCX#1243) and takes animations only as sprite sheets
// (emojianimated). So is anything that is not an image.

// maxImagePixels bounds what is decoded (a 2000×2000 image is what VRCX
// resizes to; this leaves room, and refuses decompression bombs).
const maxImagePixels = 64 << 20

// pngForUpload returns the PNG to upload for src, named like name with a
// .png extension.
func pngForUpload(name string, src remote.Source) (remote.Source, string, error) {
	pngName := name[:len(name)-len(extOf(name))] + ".png"
	cfg, format, err := image.DecodeConfig(bufio.NewReader(io.NewSectionReader(src, 0, src.Size)))
	if err != nil {
		return remote.Source{}, "", fmt.Errorf("vrchat: %q is not a PNG, JPEG or GIF image VRChat can take (%v): %w", name, err, remote.ErrInvalid)
	}
	if int64(cfg.Width)*int64(cfg.Height) > maxImagePixels {
		return remote.Source{}, "", fmt.Errorf("vrchat: %q is %d×%d pixels, more than an image upload takes: %w", name, cfg.Width, cfg.Height, remote.ErrTooLarge)
	}
	r := func() io.Reader { return bufio.NewReader(io.NewSectionReader(src, 0, src.Size)) }
	var img image.Image
	switch format {
	case "png":
		animated, err := isAPNG(r())
		if err != nil {
			return remote.Source{}, "", fmt.Errorf("vrchat: %q is not a valid PNG (%v): %w", name, err, remote.ErrInvalid)
		}
		if animated {
			return remote.Source{}, "", fmt.Errorf("vrchat: %q is an animated PNG; VRChat takes still images only (animated emoji are sprite sheets): %w", name, remote.ErrInvalid)
		}
		return src, pngName, nil // as it is
	case "jpeg":
		if img, err = jpeg.Decode(r()); err != nil {
			return remote.Source{}, "", fmt.Errorf("vrchat: %q is not a valid JPEG (%v): %w", name, err, remote.ErrInvalid)
		}
	case "gif":
		g, err := gif.DecodeAll(r())
		if err != nil {
			return remote.Source{}, "", fmt.Errorf("vrchat: %q is not a valid GIF (%v): %w", name, err, remote.ErrInvalid)
		}
		if len(g.Image) != 1 {
			return remote.Source{}, "", fmt.Errorf("vrchat: %q is an animated GIF (%d frames); VRChat takes still images only (animated emoji are sprite sheets): %w", name, len(g.Image), remote.ErrInvalid)
		}
		img = gifCanvas(g)
	default:
		return remote.Source{}, "", fmt.Errorf("vrchat: %q is a %s image; VRChat takes PNG (and this mount converts JPEG and GIF): %w", name, format, remote.ErrInvalid)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return remote.Source{}, "", fmt.Errorf("vrchat: converting %q to PNG: %w", name, err)
	}
	sum := md5.Sum(b.Bytes())
	return remote.Source{ReaderAt: bytes.NewReader(b.Bytes()), Size: int64(b.Len()), MD5: remote.KnownMD5(sum[:])}, pngName, nil
}

// gifCanvas is a single-frame GIF as a viewer shows it: the frame on its
// logical screen (transparent where the frame does not cover it).
func gifCanvas(g *gif.GIF) image.Image {
	frame := g.Image[0]
	screen := image.Rect(0, 0, g.Config.Width, g.Config.Height)
	if frame.Bounds() == screen || screen.Empty() {
		return frame // png.Encode keeps the palette: the same pixels
	}
	canvas := image.NewNRGBA(screen)
	draw.Draw(canvas, frame.Bounds(), frame, frame.Bounds().Min, draw.Src)
	return canvas
}

// isAPNG reports whether a PNG stream has an animation control chunk
// (acTL) before its image data, which makes it an animated PNG (APNG
// specification, "Structure").
func isAPNG(r io.Reader) (bool, error) {
	var sig [8]byte
	if _, err := io.ReadFull(r, sig[:]); err != nil {
		return false, err
	}
	for {
		var head [8]byte
		if _, err := io.ReadFull(r, head[:]); err != nil {
			return false, err
		}
		length := binary.BigEndian.Uint32(head[:4])
		switch string(head[4:]) {
		case "acTL":
			return true, nil
		case "IDAT", "IEND":
			return false, nil
		}
		if length > 1<<30 {
			return false, errors.New("chunk too long")
		}
		if _, err := io.CopyN(io.Discard, r, int64(length)+4); err != nil { // data and CRC
			return false, err
		}
	}
}
