package remote

import (
	"context"
	"crypto/md5"
	"io"
)

// Source is staged content to upload. It is a file on local disk: a
// Writer may read it several times (checksums, signatures, parts,
// retries) and must never hold it all in memory.
type Source struct {
	io.ReaderAt
	Size int64
	// MD5 returns the digest of the whole content, or nil if the caller
	// has none (the Writer then hashes the content itself if it needs
	// it). It may block: the filesystem hashes staged files in the
	// background while they are written and may still be finishing. So
	// a Writer asks only when it needs the digest (CBRAIN only to
	// recognise an earlier attempt of the same upload); a new upload can
	// start meanwhile.
	MD5 func() ([]byte, error)
}

// KnownMD5 is Source.MD5 for a digest computed beforehand.
func KnownMD5(sum []byte) func() ([]byte, error) {
	return func() ([]byte, error) { return sum, nil }
}

// SourceMD5 returns src's digest, computing it from the content if the
// caller gave none.
func SourceMD5(src Source) ([]byte, error) {
	if src.MD5 != nil {
		sum, err := src.MD5()
		if err != nil || len(sum) == md5.Size {
			return sum, err
		}
	}
	h := md5.New()
	if _, err := io.Copy(h, io.NewSectionReader(src, 0, src.Size)); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// Writer is implemented by Stores that accept changes. Its methods are
// called without any filesystem lock held; they may take long (an upload
// returns only once the remote has confirmed the content). Errors wrap the
// package's sentinels so that the filesystem can answer with a precise
// errno (ErrInvalid: EINVAL, ErrExist: EEXIST, ErrQuota: EDQUOT,
// ErrTooLarge: EFBIG, ErrPermission: EACCES, ErrUnsupported: ENOTSUP...).
type Writer interface {
	// CheckName returns nil if a file or directory called name may be
	// created in dir, else an error wrapping ErrInvalid that says why.
	// It makes no request.
	CheckName(dir Entry, name string) error

	// Upload stores src as name in dir and returns the new object once the
	// remote has confirmed it. old, if not nil, is the object currently
	// listed under that name, which the upload replaces; the old content
	// must stay readable until the new content has landed, and nothing may
	// be lost if a step fails.
	//
	// Upload may be called again with the same arguments after a crash
	// (the caller keeps a journal). Before creating anything, it checks
	// whether an earlier attempt already landed (same name and size, or
	// same MD5) and then finishes that one instead of creating a duplicate.
	Upload(ctx context.Context, dir Entry, name string, src Source, old *Entry) (Entry, error)

	// Mkdir creates a directory. A store may create it lazily: it then
	// returns an Entry that exists only locally until the first Upload
	// into it (VRChat creates a File with its first version). Stores
	// without directories return an error wrapping ErrUnsupported.
	Mkdir(ctx context.Context, dir Entry, name string) (Entry, error)

	// Remove deletes the file e from dir and returns once the remote has
	// done it.
	Remove(ctx context.Context, dir, e Entry) error

	// Rmdir deletes the directory e from dir.
	Rmdir(ctx context.Context, dir, e Entry) error

	// Rename moves e from dir to newDir under newName. replaced, if not nil,
	// is the object currently under newName, which the rename replaces
	// (deleted only after e has safely taken its place).
	Rename(ctx context.Context, dir, e, newDir Entry, newName string, replaced *Entry) (Entry, error)
}
