package vrchat

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/filesmount/filesmount/remote"
)

// Writing (remote.Writer). What the layout (see Store) allows:
//
//   - mkdir at the top level makes a new File, lazily: VRChat creates a
//     File with POST /file, and an empty File is of no use, so the File is
//     created by the first upload into the directory ("newfile/<name>").
//   - a file written into a File's directory becomes a new version. Its
//     name only chooses the File (its extension must be the File's);
//     whatever it is called (x.png, latest.png, 3.png), the result is
//     version N+1 and is listed as "<N+1><ext>" and latest<ext>. Versions
//     never change, so overwriting one also makes a new version: the old
//     one stays.
//   - an image written into tags/<tag>/ is uploaded with POST /file/image,
//     which creates a new File tagged <tag> named by VRChat; it shows up
//     as a directory of that name holding 1.png. Only the tags of
//     VRChat's ImagePurpose enum that need nothing more take images
//     (imagetags.go); JPEG and still GIF images are converted to PNG
//     (imageconv.go).
//   - rm of a version deletes it if it is the File's newest; rmdir of a
//     File deletes it once it has no versions left.
//   - nothing can be renamed.
var _ remote.Writer = (*Store)(nil)

// errNewestOnly is VRChat's rule for deleting versions, in the user's terms.
const errNewestOnly = "VRChat only deletes a File's newest version; delete versions newest first (rm -r works)"

// CheckName says whether name may be created in dir, without a request.
func (s *Store) CheckName(dir remote.Entry, name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("vrchat: %q is not a valid name: %w", name, remote.ErrInvalid)
	}
	kind, rest, _ := strings.Cut(dir.ID, "/")
	switch {
	case dir.ID == "/":
		if name == "tags" {
			return fmt.Errorf("vrchat: %q is reserved for the tag views: %w", name, remote.ErrInvalid)
		}
		return nil // a new File's name is free text
	case kind == "newfile":
		if id, ok := s.w.createdFile(rest); ok {
			return s.checkExt(dir, name, id)
		}
		if want, ok := s.w.firstExt(rest); ok && !strings.EqualFold(extOf(name), want) {
			return fmt.Errorf("vrchat: %q cannot go into new File %q: its first file was a %s file, which decides its extension: %w", name, rest, want, remote.ErrInvalid)
		}
		if extOf(name) == "" {
			return fmt.Errorf("vrchat: %q has no extension; a new File's versions need one (.png, .vrca, ...): %w", name, remote.ErrInvalid)
		}
		return nil
	case kind == "f" || kind == "tf":
		return s.checkExt(dir, name, fileIDOf(dir.ID))
	case kind == "tag":
		if err := checkImageTag(rest); err != nil {
			return err
		}
		if !imageExts[strings.ToLower(extOf(name))] {
			return fmt.Errorf("vrchat: %q: only .png images (or .jpg and .gif ones, converted to PNG) can be added to tag %q: %w", name, rest, remote.ErrInvalid)
		}
		return nil
	case dir.ID == "tags":
		return fmt.Errorf("vrchat: cannot create %q in tags/: a tag appears when a File has it: %w", name, remote.ErrUnsupported)
	}
	return fmt.Errorf("vrchat: cannot create %q in %q: %w", name, dir.Name, remote.ErrUnsupported)
}

// checkExt compares name's extension with the File's, if it is known.
func (s *Store) checkExt(dir remote.Entry, name, id string) error {
	got := extOf(name)
	want, known := s.w.knownExt(id)
	switch {
	case known && !strings.EqualFold(got, want):
		return fmt.Errorf("vrchat: %q cannot be a version of File %q: its versions are %s files: %w", name, dir.Name, want, remote.ErrInvalid)
	case !known && got == "":
		return fmt.Errorf("vrchat: %q has no extension; File versions need their File's extension: %w", name, remote.ErrInvalid)
	}
	return nil
}

// fileIDOf extracts the File id of "f/<id>", "tf/<tag>/<id>" or
// "v/<id>/<n>" ("" if none).
func fileIDOf(id string) string {
	parts := strings.Split(id, "/")
	switch {
	case parts[0] == "f" && len(parts) == 2, parts[0] == "v" && len(parts) == 3:
		return parts[1]
	case parts[0] == "tf" && len(parts) >= 3:
		return parts[len(parts)-1]
	}
	return ""
}

// Mkdir makes a new File directory at the top level, lazily (see above).
func (s *Store) Mkdir(ctx context.Context, dir remote.Entry, name string) (remote.Entry, error) {
	if dir.ID != "/" {
		return remote.Entry{}, fmt.Errorf("vrchat: cannot create directory %q in %q: VRChat Files hold versions, not directories; create Files at the top level: %w", name, dir.Name, remote.ErrUnsupported)
	}
	if err := s.CheckName(dir, name); err != nil {
		return remote.Entry{}, err
	}
	s.w.newDir(name)
	return remote.Entry{ID: "newfile/" + name, Name: name, IsDir: true}, nil
}

// listNewFile lists a directory made by Mkdir: empty until its first
// upload, then the File's versions.
func (s *Store) listNewFile(ctx context.Context, name string) ([]remote.Entry, error) {
	if id, ok := s.w.createdFile(name); ok {
		return s.listVersions(ctx, id)
	}
	return []remote.Entry{}, nil
}

// Upload stores src in dir (see the rules above) and returns the version
// entry as List shows it. old is not used: versions are immutable, so
// replacing one simply adds a new version, and the old stays readable.
// A retry after a crash finds what the earlier attempt did (see
// Client.uploadVersion and newFile); uploads into tags/<tag>/ cannot be
// recognised that way (VRChat keeps no md5 for them) and are not retried
// safely.
func (s *Store) Upload(ctx context.Context, dir remote.Entry, name string, src remote.Source, old *remote.Entry) (remote.Entry, error) {
	if err := s.CheckName(dir, name); err != nil {
		return remote.Entry{}, err
	}
	kind, rest, _ := strings.Cut(dir.ID, "/")
	var id string
	switch kind {
	case "newfile":
		s.w.noteFirstExt(rest, extOf(name))
		var err error
		if id, err = s.newFile(ctx, rest, name, src); err != nil {
			return remote.Entry{}, err
		}
	case "f", "tf":
		id = fileIDOf(dir.ID)
	case "tag":
		img, pngName, err := pngForUpload(name, src)
		if err != nil {
			return remote.Entry{}, err
		}
		f, err := s.c.uploadImage(ctx, rest, pngName, "image/png", img)
		if err != nil {
			return remote.Entry{}, err
		}
		s.w.noteExt(f)
		return versionEntry(f, &f.Versions[1]), nil
	default:
		return remote.Entry{}, fmt.Errorf("vrchat: cannot store %q in %q: only File directories hold files: %w", name, dir.Name, remote.ErrUnsupported)
	}
	release, err := s.w.acquire(ctx, id)
	if err != nil {
		return remote.Entry{}, err
	}
	defer release()
	f, err := s.c.File(ctx, id)
	if err != nil {
		return remote.Entry{}, err
	}
	s.w.noteExt(f)
	if !strings.EqualFold(extOf(name), f.ext()) {
		return remote.Entry{}, fmt.Errorf("vrchat: %q cannot be a version of File %q: its versions are %s files: %w", name, f.Name, f.ext(), remote.ErrInvalid)
	}
	f, n, err := s.c.uploadVersion(ctx, f, src)
	if err != nil {
		return remote.Entry{}, err
	}
	return versionEntry(f, &f.Versions[n]), nil
}

// newFile returns the File that a new-File directory stands for, creating
// it on the first upload. After a crash (the directory's File unknown
// again), a File of the user with the same name, mimeType and extension
// that has no data yet, or whose newest version declares this content, is
// taken as the one the earlier attempt created.
func (s *Store) newFile(ctx context.Context, dirName, name string, src remote.Source) (string, error) {
	ext := extOf(name)
	mime := mimeFor(ext)
	v, err, _ := s.w.newFiles.Do(dirName, func() (any, error) {
		if id, ok := s.w.createdFile(dirName); ok {
			return id, nil
		}
		files, err := s.c.Files(ctx, "")
		if err != nil {
			return "", err
		}
		raw, err := remote.SourceMD5(src)
		if err != nil {
			return "", fmt.Errorf("vrchat: upload %q: reading the data: %w", name, err)
		}
		sum := base64.StdEncoding.EncodeToString(raw)
		for i := len(files) - 1; i >= 0; i-- {
			f := &files[i]
			if f.Name != dirName || f.MimeType != mime || !strings.EqualFold(f.ext(), ext) || len(f.Versions) == 0 {
				continue
			}
			last := &f.Versions[len(f.Versions)-1]
			if !hasReadable(f) || (last.File != nil && last.File.MD5 == sum) {
				s.w.noteExt(f)
				s.w.setCreated(dirName, f.ID)
				return f.ID, nil
			}
		}
		f, err := s.c.createFile(ctx, dirName, mime, ext)
		if err != nil {
			return "", err
		}
		s.w.noteExt(f)
		s.w.setCreated(dirName, f.ID)
		return f.ID, nil
	})
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

func hasReadable(f *File) bool {
	for i := range f.Versions {
		if f.Versions[i].Readable() {
			return true
		}
	}
	return false
}

// Remove deletes a version. latest<ext> is the same object as the newest
// version, so removing it deletes the newest version. Unfinished versions
// above it (left by interrupted uploads) are deleted first, since VRChat
// counts them as newer. A version that is already gone is not an error:
// after "latest.png" is removed, "<N>.png" names the same deleted object.
func (s *Store) Remove(ctx context.Context, dir, e remote.Entry) error {
	parts := strings.Split(e.ID, "/")
	switch {
	case parts[0] == "a":
		return fmt.Errorf("vrchat: cannot remove %q: analysis reports are made by VRChat: %w", e.Name, remote.ErrReadOnly)
	case parts[0] != "v" || len(parts) != 3:
		return fmt.Errorf("vrchat: cannot remove %q: not a version file: %w", e.Name, remote.ErrUnsupported)
	}
	id := parts[1]
	n, err := strconv.Atoi(parts[2])
	if err != nil {
		return fmt.Errorf("vrchat: cannot remove %q: malformed id: %w", e.Name, remote.ErrInvalid)
	}
	release, err := s.w.acquire(ctx, id)
	if err != nil {
		return err
	}
	defer release()
	f, err := s.c.File(ctx, id)
	if errors.Is(err, remote.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if n >= len(f.Versions) || !f.Versions[n].Readable() || (e.Version != "" && versionEntry(f, &f.Versions[n]).Version != e.Version) {
		return nil // already deleted (and maybe replaced by another version n)
	}
	var stale []int
	for i := len(f.Versions) - 1; i > n; i-- {
		v := &f.Versions[i]
		switch {
		case v.Deleted:
		case v.Readable():
			return fmt.Errorf("vrchat: cannot remove %q from File %q (version %d of %d): %s: %w", e.Name, f.Name, n, len(f.Versions)-1, errNewestOnly, remote.ErrNotPermitted)
		case v.Status == StatusQueued || v.processing():
			return fmt.Errorf("vrchat: cannot remove %q from File %q: VRChat is still processing the newer version %d: %w", e.Name, f.Name, i, remote.ErrNotReady)
		default:
			stale = append(stale, i)
		}
	}
	for _, i := range append(stale, n) {
		if err := s.c.deleteVersion(ctx, f, i); err != nil {
			if errors.Is(err, remote.ErrConflict) { // HTTP 500 "409 Cannot delete against anything but the latest version"
				return fmt.Errorf("vrchat: cannot remove %q from File %q: %s (%w): %w", e.Name, f.Name, errNewestOnly, err, remote.ErrNotPermitted)
			}
			return err
		}
		s.downloads.forget(id + "/" + strconv.Itoa(i))
	}
	return nil
}

// Rmdir deletes a File that has no readable version left. A directory made
// by Mkdir that never received an upload exists only here.
func (s *Store) Rmdir(ctx context.Context, dir, e remote.Entry) error {
	kind, rest, _ := strings.Cut(e.ID, "/")
	var id string
	switch kind {
	case "newfile":
		var ok bool
		if id, ok = s.w.createdFile(rest); !ok {
			s.w.newDir(rest) // nothing was created: nothing chosen stays
			return nil
		}
	case "f", "tf":
		id = fileIDOf(e.ID)
	default:
		return fmt.Errorf("vrchat: cannot remove directory %q: %w", e.Name, remote.ErrUnsupported)
	}
	release, err := s.w.acquire(ctx, id)
	if err != nil {
		return err
	}
	defer release()
	f, err := s.c.File(ctx, id)
	if errors.Is(err, remote.ErrNotFound) {
		s.w.forget(id)
		return nil
	}
	if err != nil {
		return err
	}
	if hasReadable(f) {
		// The filesystem maps ErrConflict to an errno; for rmdir it
		// should be ENOTEMPTY.
		return fmt.Errorf("vrchat: cannot remove File %q: directory not empty (delete its versions first, newest first): %w", f.Name, remote.ErrConflict)
	}
	if err := s.c.deleteFile(ctx, f); err != nil && !errors.Is(err, remote.ErrNotFound) {
		return err
	}
	s.w.forget(id)
	return nil
}

// Rename is refused: VRChat has no way to rename a File or a version.
func (s *Store) Rename(ctx context.Context, dir, e, newDir remote.Entry, newName string, replaced *remote.Entry) (remote.Entry, error) {
	return remote.Entry{}, fmt.Errorf("vrchat: cannot rename %q to %q: VRChat Files cannot be renamed: %w", e.Name, newName, remote.ErrUnsupported)
}
