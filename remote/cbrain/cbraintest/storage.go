package cbraintest

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// Contents live under DataDir/files/<id>/: "v<gen>" for a SingleFile,
// "c<gen>/" for a FileCollection's members. A new generation is written
// for every change and the old one removed, so open readers (Linux keeps
// unlinked files readable) are never disturbed.

func (s *Server) nextGenLocked() int64 {
	s.st.contentGen++
	return s.st.contentGen
}

func (s *Server) fileDir(id int) string {
	return filepath.Join(s.opts.DataDir, "files", strconv.Itoa(id))
}

func (s *Server) writeContent(id int, gen int64, b []byte) (string, error) {
	p := filepath.Join(s.fileDir(id), fmt.Sprintf("v%d", gen))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	return p, os.WriteFile(p, b, 0o644)
}

func (s *Server) writeCollection(id int, gen int64, members map[string][]byte) (string, error) {
	root := filepath.Join(s.fileDir(id), fmt.Sprintf("c%d", gen))
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	for rel, b := range members {
		clean := path.Clean("/" + rel)[1:]
		if clean == "" {
			return "", fmt.Errorf("bad member path %q", rel)
		}
		p := filepath.Join(root, filepath.FromSlash(clean))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return "", err
		}
	}
	return root, nil
}

// removeLater deletes a content generation that is no longer referenced.
func removeLater(p string) {
	if p != "" {
		os.RemoveAll(p)
	}
}

// contentRef is a snapshot of where a SingleFile's bytes are, taken under
// mu and used without it.
type contentRef struct {
	data string
	src  io.ReaderAt
	size int64
}

func refOf(f *userfile) contentRef {
	return contentRef{data: f.data, src: f.src, size: f.srcSize}
}

// open returns a reader over the whole content and its length.
func (r contentRef) open() (io.ReadCloser, int64, error) {
	switch {
	case r.src != nil:
		return io.NopCloser(io.NewSectionReader(r.src, 0, r.size)), r.size, nil
	case r.data == "":
		return io.NopCloser(bytes.NewReader(nil)), 0, nil
	}
	fh, err := os.Open(r.data)
	if err != nil {
		return nil, 0, err
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		fh.Close()
		return nil, 0, fmt.Errorf("%s: not a regular file", r.data)
	}
	return fh, st.Size(), nil
}

// collectionMember resolves "<CollName>/<rel>" (FileCollection#collection_file,
// §3): the path is cleaned (internal ".." compacted), must not climb out,
// must name a regular, non-symlink file inside the collection. It returns
// "" when the loader would return nil.
func collectionMember(root, collName, arg string) string {
	if root == "" || arg == "" || strings.HasPrefix(arg, "/") {
		return ""
	}
	clean := path.Clean(arg)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return ""
	}
	first, rel, ok := strings.Cut(clean, "/")
	if !ok || first != collName || rel == "" {
		return "" // the collection itself (a directory) or outside of it
	}
	p := filepath.Join(root, filepath.FromSlash(rel))
	st, err := os.Lstat(p)
	if err != nil || !st.Mode().IsRegular() {
		return ""
	}
	return p
}

// copyTree copies a file or a directory tree (for copies to another provider).
func copyTree(src, dst string) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return copyFile(src, dst)
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		t := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(t, 0o755)
		}
		return copyFile(p, t)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
