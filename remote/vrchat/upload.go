package vrchat

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/filesmount/filesmount/remote"
)

// UploadOptions tunes uploads. Zero fields take the defaults.
type UploadOptions struct {
	// PartSize is the size of multipart parts (default 10 MiB, what
	// VRChat's SDK3 used). S3 wants at least 5 MiB for all parts but the
	// last; tests lower it together with the emulator's MinPartSize.
	PartSize int64
	// PollInterval is the first wait between the checks that VRChat has
	// finished processing an upload; it doubles up to PollMaxInterval
	// (defaults 2 s and 10 s, as VRChat's SDK).
	PollInterval, PollMaxInterval time.Duration
	// PollTimeout bounds that processing (default: 120 s per started
	// 50 MiB, at most 600 s, as the SDK).
	PollTimeout time.Duration
}

func (o UploadOptions) withDefaults() UploadOptions {
	if o.PartSize <= 0 {
		o.PartSize = 10 << 20
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 2 * time.Second
	}
	if o.PollMaxInterval <= 0 {
		o.PollMaxInterval = 10 * time.Second
	}
	o.PollMaxInterval = max(o.PollMaxInterval, o.PollInterval)
	return o
}

func (o UploadOptions) pollTimeout(size int64) time.Duration {
	if o.PollTimeout > 0 {
		return o.PollTimeout
	}
	const per = 50 << 20
	d := time.Duration(max(1, (size+per-1)/per)) * 120 * time.Second
	return min(d, 600*time.Second)
}

// versionUpload is one upload of src as a new version of a File.
type versionUpload struct {
	c       *Client
	src     remote.Source
	fileMD5 string     // base64
	sig     *Signature // computed on demand from src
	// signatureMD5 computes the signature once (see computeSignature)
	// and returns its base64 MD5; startSignature runs it early.
	signatureMD5 func() (string, error)
	stopSig      context.CancelFunc
	// sigFile holds the signature once computed (an unlinked temporary
	// file, about 18 MiB per GiB of data), so that uploading it does not
	// compute it a second time; nil if it could not be created. Set by
	// computeSignature; read only after signatureMD5 has returned.
	sigFile *os.File
}

func newVersionUpload(c *Client, src remote.Source) *versionUpload {
	u := &versionUpload{c: c, src: src, sig: NewSignature(src, src.Size)}
	ctx, cancel := context.WithCancel(context.Background())
	u.stopSig = cancel
	u.signatureMD5 = sync.OnceValues(func() (string, error) { return u.computeSignature(ctx) })
	return u
}

// startSignature computes the signature in the background. VRChat must
// be told both the content's MD5 and the signature's before the upload
// starts; the content's may still be computed by the filesystem (it
// hashes staged files behind the writer), so computing the signature
// meanwhile saves most of its time.
func (u *versionUpload) startSignature() { go u.signatureMD5() }

// close stops a signature still being computed (the upload failed, or
// found its content already there) and releases its file.
func (u *versionUpload) close() {
	u.stopSig()
	u.signatureMD5() // waits for a computation in progress to stop
	if u.sigFile != nil {
		u.sigFile.Close()
	}
}

// sigBody is what the signature part uploads.
func (u *versionUpload) sigBody() io.ReaderAt {
	if u.sigFile != nil {
		return u.sigFile
	}
	return u.sig
}

// uploadVersion stores src as the newest version of f (the caller's fresh
// copy) and returns the File and the version number once VRChat reports
// the version complete. It follows the SDK (reference §4.1): a latest
// version left over by an earlier attempt is resumed if it declares the
// same content, deleted if it is stale (waiting for other content, or
// errored), and accepted as the result if it already holds this content
// (a retry after a crash or a lost answer creates no second version).
func (c *Client) uploadVersion(ctx context.Context, f *File, src remote.Source) (*File, int, error) {
	u := newVersionUpload(c, src)
	defer u.close()
	u.startSignature()
	sum, err := remote.SourceMD5(src)
	if err != nil {
		return nil, 0, fmt.Errorf("vrchat: upload to File %q: reading the data: %w", f.Name, err)
	}
	u.fileMD5 = base64.StdEncoding.EncodeToString(sum)

	f, n, err := u.target(ctx, f)
	if err != nil {
		return nil, 0, err
	}
	v := &f.Versions[n]
	if v.Status == StatusWaiting {
		job := &partJob{f: f, n: n, kind: "file", body: src, size: src.Size, contentType: f.MimeType, md5: u.fileMD5}
		if f, err = c.uploadPart(ctx, job); err != nil {
			return nil, 0, err
		}
		if err := processingFailed(f, n); err != nil {
			return nil, 0, err // no use sending the signature
		}
		sigMD5, err := u.signatureMD5()
		if err != nil {
			return nil, 0, err
		}
		job = &partJob{f: f, n: n, kind: "signature", body: u.sigBody(), size: u.sig.Size(),
			contentType: "application/x-rsync-signature", md5: sigMD5}
		if f, err = c.uploadPart(ctx, job); err != nil {
			return nil, 0, err
		}
	}
	f, err = c.waitComplete(ctx, f, n, src.Size)
	return f, n, err
}

// computeSignature computes the signature, keeping it in a temporary
// file when possible, and returns its base64 MD5.
func (u *versionUpload) computeSignature(ctx context.Context) (string, error) {
	h := md5.New()
	var w io.Writer = h
	f, err := os.CreateTemp("", "filesmount-signature-*")
	if err == nil {
		os.Remove(f.Name()) // the descriptor is enough; nothing left after a crash
		w = io.MultiWriter(h, f)
	} else {
		f = nil
	}
	if _, err := u.sig.writeAll(ctx, w); err != nil {
		if f != nil {
			f.Close()
		}
		return "", fmt.Errorf("vrchat: computing the signature: %w", err)
	}
	u.sigFile = f
	return base64.StdEncoding.EncodeToString(h.Sum(nil)), nil
}

func (u *versionUpload) digests() (digests, error) {
	s, err := u.signatureMD5()
	return digests{FileMD5: u.fileMD5, FileSize: u.src.Size, SignatureMD5: s, SignatureSize: u.sig.Size()}, err
}

// sameFile reports whether a version declares this upload's content.
func (u *versionUpload) sameFile(v *FileVersion) bool {
	return v.File != nil && v.File.MD5 == u.fileMD5 && v.File.SizeInBytes == u.src.Size
}

// target returns the version to fill: a leftover of an earlier attempt at
// the same content, or a newly declared one.
func (u *versionUpload) target(ctx context.Context, f *File) (*File, int, error) {
	for range 4 { // each round deletes at most one stale version
		n := len(f.Versions) - 1
		if n < 1 || f.Versions[n].Deleted {
			break // nothing but version 0, or a deleted one (old representation)
		}
		v := &f.Versions[n]
		same := u.sameFile(v)
		switch {
		case v.failure() != "":
			// errored: deleted below, as the SDK does (IsLatestVersionErrored)
		case v.Readable() && !same:
			return u.create(ctx, f)
		case same && (v.Readable() || v.Status == StatusQueued || v.processing()):
			return f, n, nil // landed earlier (VRChat may still be processing it)
		case same && v.Status == StatusWaiting:
			d, err := u.digests()
			if err != nil {
				return nil, 0, err
			}
			if v.Signature != nil && v.Signature.MD5 == d.SignatureMD5 && v.Signature.SizeInBytes == d.SignatureSize {
				return f, n, nil // resume
			}
		case v.Status != StatusWaiting && v.Status != StatusQueued:
			return u.create(ctx, f) // a real version with other content
		}
		// A stale leftover: waiting or queued for other content, errored.
		if err := u.c.deleteVersion(ctx, f, n); err != nil {
			return nil, 0, fmt.Errorf("vrchat: upload to File %q: removing the unfinished version %d (%s) left by an earlier upload: %w", f.Name, n, v.Status, err)
		}
		var err error
		if f, err = u.c.File(ctx, f.ID); err != nil {
			return nil, 0, err
		}
	}
	return u.create(ctx, f)
}

// create declares a new version. POST /file/{id} is not idempotent: if its
// answer is lost, the File is read back and a waiting version with these
// digests is taken as ours instead of declaring another one.
func (u *versionUpload) create(ctx context.Context, f *File) (*File, int, error) {
	d, err := u.digests()
	if err != nil {
		return nil, 0, err
	}
	g, err := u.c.createVersion(ctx, f, d)
	if err != nil && unsure(err) {
		if h, gerr := u.c.File(ctx, f.ID); gerr == nil {
			if n := len(h.Versions) - 1; n > len(f.Versions)-1 && u.sameFile(&h.Versions[n]) {
				return h, n, nil
			}
		}
	}
	if err != nil {
		return nil, 0, err
	}
	n := len(g.Versions) - 1
	if n < 1 || !u.sameFile(&g.Versions[n]) {
		return nil, 0, fmt.Errorf("vrchat: upload to File %q: the new version is not listed last as declared", f.Name)
	}
	return g, n, nil
}
