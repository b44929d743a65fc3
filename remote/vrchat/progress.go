package vrchat

import (
	"context"
	"fmt"
	"time"

	"github.com/filesmount/filesmount/remote"
)

// Where a version stands once its entries are uploaded, read as VRChat's
// SDK reads it: from the version's status AND from its entries' own
// statuses (VRCFile.IsLatestVersionWaiting, IsLatestVersionQueued and
// IsLatestVersionErrored in the SDK's VRCFile.cs each check
// version.Status, version.File.Status and version.Signature.Status). No
// recording shows the version-level status right after a finish, so
// nothing here depends on it alone: a version is done when its entries
// are complete and it is neither queued nor errored, whatever the
// version-level status lags at.

// entries returns the version's declared entries (file, signature,
// delta), skipping those it does not have.
func (v *FileVersion) entries() []*FileData {
	var out []*FileData
	for _, d := range []*FileData{v.File, v.Signature, v.Delta} {
		if d != nil {
			out = append(out, d)
		}
	}
	return out
}

// failure names what VRChat reports as failed: "version" if the version
// itself is in status "error", else the kind of the first entry in
// "error" ("file", "signature", "delta"); "" if nothing failed.
func (v *FileVersion) failure() string {
	if v.Status == StatusError {
		return "version"
	}
	for _, kind := range []string{"file", "signature", "delta"} {
		if d := partOf(v, kind); d != nil && d.Status == StatusError {
			return kind
		}
	}
	return ""
}

// entriesComplete reports whether the version's data is all stored: the
// file entry complete, and every other declared entry complete or unused
// ("none", e.g. a delta that was never declared in use).
func (v *FileVersion) entriesComplete() bool {
	if v.File == nil || v.File.Status != StatusComplete {
		return false
	}
	for _, d := range v.entries() {
		if d.Status != StatusComplete && d.Status != "none" {
			return false
		}
	}
	return true
}

// processing reports whether VRChat is still working on the version: it,
// or one of its entries, is "queued" and nothing is still waiting for
// bytes (the SDK's HasQueuedOperation).
func (v *FileVersion) processing() bool {
	queued := v.Status == StatusQueued
	for _, d := range v.entries() {
		switch d.Status {
		case StatusWaiting:
			return false
		case StatusQueued:
			queued = true
		}
	}
	return queued
}

// Readable reports whether the version has data that can be downloaded:
// a complete version, or one whose version-level status still says
// "waiting" although every entry is complete (one of the plausible
// answers after a finish). Never one that is processing or errored.
func (v *FileVersion) Readable() bool {
	if v.Version <= 0 || v.Deleted || v.File == nil || v.failure() != "" {
		return false
	}
	switch v.Status {
	case StatusComplete:
		return true
	case StatusWaiting:
		return v.entriesComplete()
	}
	return false
}

// processingFailed returns an error if VRChat reports version n of f, or
// one of its entries, in status "error". The error carries no sentinel:
// the upload failed on VRChat's side, which the filesystem reports as EIO
// at close and hands the data back (fs/upload.go).
func processingFailed(f *File, n int) error {
	if n >= len(f.Versions) {
		return nil
	}
	v := &f.Versions[n]
	switch what := v.failure(); what {
	case "":
		return nil
	case "version":
		return fmt.Errorf("vrchat: upload to File %q (%s): VRChat failed to process version %d (status \"error\"); the next upload replaces it", f.Name, f.ID, n)
	default:
		return fmt.Errorf("vrchat: upload to File %q (%s): VRChat failed to process the %s of version %d (its status is \"error\"); the next upload replaces it", f.Name, f.ID, what, n)
	}
}

// waitComplete polls GET /file/{id} until version n is done (Readable),
// with the SDK's backoff, and fails as soon as VRChat reports the version
// or an entry in error. VRChat reports "queued" while it processes.
func (c *Client) waitComplete(ctx context.Context, f *File, n int, size int64) (*File, error) {
	limit := c.upload.pollTimeout(size)
	deadline := time.Now().Add(limit)
	delay := c.upload.PollInterval
	for {
		if n >= len(f.Versions) || f.Versions[n].Deleted {
			return nil, fmt.Errorf("vrchat: upload to File %q: version %d was deleted while VRChat processed it: %w", f.Name, n, remote.ErrConflict)
		}
		if err := processingFailed(f, n); err != nil {
			return nil, err
		}
		v := &f.Versions[n]
		if v.Readable() {
			return f, nil
		}
		if time.Now().Add(delay).After(deadline) {
			return nil, fmt.Errorf("vrchat: upload to File %q: version %d still %s after %s: %w", f.Name, n, describeProgress(v), limit, remote.ErrTimeout)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, c.upload.PollMaxInterval)
		var err error
		if f, err = c.File(ctx, f.ID); err != nil {
			return nil, err
		}
	}
}

// describeProgress says where a version stands, for messages:
// `"queued" (file complete, signature queued)`.
func describeProgress(v *FileVersion) string {
	s := fmt.Sprintf("%q (", v.Status)
	sep := ""
	for _, kind := range []string{"file", "signature", "delta"} {
		if d := partOf(v, kind); d != nil {
			s += sep + kind + " " + d.Status
			sep = ", "
		}
	}
	if sep == "" {
		s += "no data"
	}
	return s + ")"
}
