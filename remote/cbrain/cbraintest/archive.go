package cbraintest

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// archiveName is FileCollection::CBRAIN_ARCHIVE_CONTENT_BASENAME.
const archiveName = "CBRAIN_ArchivedContent.tar.gz"

var errClosed = errors.New("emulator closed")

// abortable stops long copies when the server closes.
type abortable struct {
	r    io.Reader
	done <-chan struct{}
}

func (a abortable) Read(p []byte) (int, error) {
	select {
	case <-a.done:
		return 0, errClosed
	default:
	}
	return a.r.Read(p)
}

func writeFileFrom(dst string, r io.Reader) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, err
	}
	out, err := os.Create(dst)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, r)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// gzipTo writes gzip(content) to dst and returns its size.
func (s *Server) gzipTo(ref contentRef, dst string) (int64, error) {
	rc, _, err := ref.open()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	pr, pw := io.Pipe()
	go func() {
		zw := gzip.NewWriter(pw)
		_, err := io.Copy(zw, abortable{rc, s.done})
		if err == nil {
			err = zw.Close()
		}
		pw.CloseWithError(err)
	}()
	return writeFileFrom(dst, pr)
}

// gunzipTo writes gunzip(content) to dst and returns its size.
func (s *Server) gunzipTo(ref contentRef, dst string) (int64, error) {
	rc, _, err := ref.open()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		return 0, err
	}
	return writeFileFrom(dst, abortable{zr, s.done})
}

// tarTree writes the tree under root into tw with names prefix+rel.
func tarTree(tw *tar.Writer, root, prefix string) error {
	if root == "" {
		return tw.WriteHeader(&tar.Header{Name: prefix + "/", Typeflag: tar.TypeDir, Mode: 0o755})
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		name := path.Join(prefix, filepath.ToSlash(rel))
		st, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(st, "")
		if err != nil {
			return err
		}
		hdr.Name = name
		if d.IsDir() {
			hdr.Name += "/"
			return tw.WriteHeader(hdr)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		fh, err := os.Open(p)
		if err != nil {
			return err
		}
		defer fh.Close()
		_, err = io.Copy(tw, fh)
		return err
	})
}

// archiveDir is provider_archive: dst/CBRAIN_ArchivedContent.tar.gz holds
// the collection's content ("./..."); returns the archive size.
func (s *Server) archiveDir(root, dst string) (int64, error) {
	pr, pw := io.Pipe()
	go func() {
		zw := gzip.NewWriter(pw)
		tw := tar.NewWriter(zw)
		err := tarTree(tw, root, ".")
		if err == nil {
			err = tw.Close()
		}
		if err == nil {
			err = zw.Close()
		}
		pw.CloseWithError(err)
	}()
	return writeFileFrom(filepath.Join(dst, archiveName), abortable{pr, s.done})
}

// unarchiveDir is provider_unarchive: extract root/CBRAIN_ArchivedContent.tar.gz into dst.
func (s *Server) unarchiveDir(root, dst string) error {
	fh, err := os.Open(filepath.Join(root, archiveName))
	if err != nil {
		return errors.New("Cannot unarchive: tar archive does not exist in collection.")
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		return err
	}
	tr := tar.NewReader(abortable{zr, s.done})
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		if name == "." || name == ".." || strings.HasPrefix(name, "../") || path.IsAbs(name) {
			continue
		}
		target := filepath.Join(dst, filepath.FromSlash(name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if _, err := writeFileFrom(target, tr); err != nil {
				return err
			}
		}
	}
}
