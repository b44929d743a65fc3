package cbrain

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/filesmount/filesmount/remote"
)

// uploadMeta is what an upload sets besides the content.
type uploadMeta struct {
	fileType string  // "" lets the portal guess from the name
	groupID  int64   // 0: the portal uses the user's own group
	tagIDs   []int64 // tags[] of the new file
}

// Upload implements remote.Writer.
//
// CBRAIN answers an upload with 201 and no id, creates the record with a
// null size at once, and copies the content in the background. So Upload
// finds the record by (name, provider, owner) and waits for its size.
// It never POSTs when a record with that name already exists: such a
// record is an earlier attempt (after a crash, Upload is called again with
// the same arguments) if its size (and content, when src.MD5 is given)
// match, and it is then finished instead of duplicated.
func (s *Store) Upload(ctx context.Context, dir remote.Entry, name string, src remote.Source, old *remote.Entry) (remote.Entry, error) {
	dpID, err := providerOf(dir)
	if err != nil {
		return remote.Entry{}, err
	}
	if err := checkLegal(name); err != nil {
		return remote.Entry{}, err
	}
	me, err := s.c.Me(ctx)
	if err != nil {
		return remote.Entry{}, err
	}
	if old != nil {
		return s.overwrite(ctx, me, dpID, name, src, *old)
	}
	uf, err := s.c.uploadOnce(ctx, me, dpID, name, src, uploadMeta{fileType: fileType(name), groupID: me.GroupID}, false)
	if err != nil {
		return remote.Entry{}, err
	}
	return userfileEntry(uf), nil
}

// overwrite replaces old with src under name. CBRAIN cannot replace a
// userfile's content in place, so:
//
//  1. upload src under a temporary legal name, derived from name and
//     src's checksum (a retry after a crash finds it), with old's type,
//     project and tags, and wait until it has landed;
//  2. delete old and wait for the deletion;
//  3. rename the new file to name, and confirm.
//
// Until step 1 completes, old is untouched. Between steps 2 and 3 (the
// portal's deletion time plus one request) the name does not exist: a
// reader sees ENOENT, not old or partial content. If step 3 fails, the
// new content is kept under the temporary name, which the error names.
func (s *Store) overwrite(ctx context.Context, me Identity, dpID int64, name string, src remote.Source, old remote.Entry) (remote.Entry, error) {
	oldID, ok := UserfileID(old)
	if !ok {
		return remote.Entry{}, fmt.Errorf("cbrain: cannot replace %q: it is not a userfile: %w", old.Name, remote.ErrInvalid)
	}
	oldUF, err := s.c.userfileIfExists(ctx, oldID)
	if err != nil {
		return remote.Entry{}, err
	}
	if oldUF != nil && (oldUF.Name != name || oldUF.DataProviderID != dpID) {
		oldUF = nil // renamed or moved meanwhile: no longer the file to replace
	}
	if oldUF != nil {
		switch {
		case isCollectionType(oldUF.Type):
			return remote.Entry{}, fmt.Errorf("cbrain: cannot replace %q with a file: it is a FileCollection: %w", name, remote.ErrInvalid)
		case oldUF.Immutable:
			return remote.Entry{}, fmt.Errorf("cbrain: cannot replace %q (userfile %d): it is marked immutable: %w", name, oldID, remote.ErrReadOnly)
		}
	}
	sum, err := remote.SourceMD5(src)
	if err != nil {
		return remote.Entry{}, fmt.Errorf("cbrain: replace %q: reading the new content: %w", name, err)
	}
	tmp := uploadTempName(name, sum, src.Size)
	existing, err := s.c.findOwned(ctx, me, dpID, tmp)
	if err != nil {
		return remote.Entry{}, err
	}
	if existing == nil && oldUF == nil {
		// Either old vanished, or an earlier attempt already finished all
		// three steps: a plain upload adopts that attempt's result.
		uf, err := s.c.uploadOnce(ctx, me, dpID, name, src, uploadMeta{fileType: fileType(name), groupID: me.GroupID}, false)
		if err != nil {
			return remote.Entry{}, err
		}
		return userfileEntry(uf), nil
	}
	meta := uploadMeta{fileType: fileType(name), groupID: me.GroupID}
	if oldUF != nil {
		// Keep what the user set on the file being replaced. The type must
		// be explicit: the portal would guess it from the temporary name.
		meta = uploadMeta{fileType: oldUF.Type, groupID: oldUF.GroupID, tagIDs: oldUF.TagIDs}
	}
	// Our own temporary name: any file there is an earlier attempt, kept
	// if complete, replaced if not.
	newUF, err := s.c.uploadOnce(ctx, me, dpID, tmp, src, meta, true)
	if err != nil {
		return remote.Entry{}, err
	}
	if oldUF != nil {
		if err := s.c.deleteUserfile(ctx, oldUF); err != nil {
			// Nothing changed yet: take the new content back off the
			// portal (the caller keeps it in its recovery folder), so
			// that a failed overwrite leaves the provider as it was.
			if derr := s.c.deleteUserfile(ctx, newUF); derr != nil {
				return remote.Entry{}, fmt.Errorf("%w (the new content is uploaded as %q, userfile %d; %q still has the old content)",
					err, tmp, newUF.ID, name)
			}
			return remote.Entry{}, fmt.Errorf("%w (%q still has the old content)", err, name)
		}
	}
	if err := s.c.rename(ctx, me, newUF, name); err != nil {
		return remote.Entry{}, fmt.Errorf("%w; the new content of %q is kept as %q (userfile %d)", err, name, tmp, newUF.ID)
	}
	return userfileEntry(newUF), nil
}

// uploadOnce makes sure that name on provider dpID, owned by me, holds
// src, POSTing at most once, and returns the landed userfile. A file
// already there is adopted if it matches src; otherwise, with
// replaceStale (our own temporary names only) it is deleted and src
// uploaded, else the answer is ErrExist.
func (c *Client) uploadOnce(ctx context.Context, me Identity, dpID int64, name string, src remote.Source, meta uploadMeta, replaceStale bool) (*Userfile, error) {
	limit := c.uploadTimeout(src.Size)
	deadline := time.Now().Add(limit)
	uf, err := c.findOwned(ctx, me, dpID, name)
	if err != nil {
		return nil, err
	}
	if uf != nil {
		landed, err := c.waitLanded(ctx, name, uf.ID, deadline, limit)
		if err != nil {
			return nil, err
		}
		same, err := c.sameContent(ctx, landed, src)
		if err != nil {
			return nil, err
		}
		if same {
			return landed, nil
		}
		if !replaceStale {
			return nil, fmt.Errorf("cbrain: upload %q: a different file with that name already exists on data provider %d (userfile %d, %d bytes): %w",
				name, dpID, landed.ID, sizeOf(landed), remote.ErrExist)
		}
		if err := c.deleteUserfile(ctx, landed); err != nil {
			return nil, err
		}
	}
	// The portal creates the record before answering. After a network
	// failure or a 5xx it may have done so anyway (the answer was lost):
	// look first, and POST again only when the first attempt did not land
	// — so a transient fault costs a retry, never a duplicate.
	var uf2 *Userfile
	err = c.Retry.Do(ctx, func(attempt int) (time.Duration, bool, error) {
		postErr := c.post(ctx, dpID, name, src, meta)
		if postErr != nil && !errors.Is(postErr, remote.ErrUnavailable) {
			return 0, false, postErr
		}
		found, err := c.findAfterPost(ctx, me, dpID, name, postErr == nil)
		switch {
		case err != nil:
			return 0, false, err
		case found != nil:
			uf2 = found
			return 0, false, nil
		case postErr != nil:
			return 0, true, postErr // did not land: safe to POST again
		}
		return 0, false, fmt.Errorf("cbrain: upload %q: the portal accepted it but it does not appear in data provider %d's listing "+
			"(is a project selected for this API token?): %w", name, dpID, remote.ErrNotFound)
	})
	if err != nil {
		return nil, err
	}
	uf = uf2
	landed, err := c.waitLanded(ctx, name, uf.ID, deadline, limit)
	if err != nil {
		return nil, err
	}
	if sizeOf(landed) != src.Size {
		return nil, fmt.Errorf("cbrain: upload %q: the portal stored %d bytes instead of %d (userfile %d): %w",
			name, sizeOf(landed), src.Size, landed.ID, remote.ErrCorrupt)
	}
	return landed, nil
}

// findAfterPost looks the new record up. After a successful POST it
// retries briefly, in case the listing lags behind the write.
func (c *Client) findAfterPost(ctx context.Context, me Identity, dpID int64, name string, posted bool) (*Userfile, error) {
	tries := 1
	if posted {
		tries = 5
	}
	delay := c.PollInterval
	for i := 1; ; i++ {
		uf, err := c.findOwned(ctx, me, dpID, name)
		if err != nil || uf != nil || i >= tries {
			return uf, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay *= 2
	}
}

func (c *Client) uploadTimeout(size int64) time.Duration {
	return c.UploadTimeout + time.Duration(size/(4<<20))*time.Second
}

func sizeOf(uf *Userfile) int64 {
	if uf.Size == nil {
		return remote.SizeUnknown
	}
	return *uf.Size
}

// post sends POST /userfiles as multipart/form-data, streaming src from
// disk. The body is a MultiReader over the form's head, a SectionReader of
// src and the closing boundary, so its length is known (no chunked
// encoding, which some proxies refuse) and it can be replayed (GetBody).
func (c *Client) post(ctx context.Context, dpID int64, name string, src remote.Source, meta uploadMeta) error {
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	fields := [][2]string{{"data_provider_id", strconv.FormatInt(dpID, 10)}}
	// userfile[group_id] must be sent even when unknown: without any
	// userfile[...] key the portal answers 500. An unassignable or empty
	// group makes it use the user's own group.
	group := ""
	if meta.groupID > 0 {
		group = strconv.FormatInt(meta.groupID, 10)
	}
	fields = append(fields, [2]string{"userfile[group_id]", group})
	if meta.fileType != "" {
		fields = append(fields, [2]string{"file_type", meta.fileType})
	}
	for _, t := range meta.tagIDs {
		fields = append(fields, [2]string{"tags[]", strconv.FormatInt(t, 10)})
	}
	for _, f := range fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			return err
		}
	}
	// The userfile's name is the part's filename (File.basename of it).
	if _, err := mw.CreateFormFile("upload_file", name); err != nil {
		return err
	}
	headLen := head.Len()
	if err := mw.Close(); err != nil {
		return err
	}
	all := head.Bytes()
	pre, tail := all[:headLen], all[headLen:]
	newBody := func() io.Reader {
		return io.MultiReader(bytes.NewReader(pre), io.NewSectionReader(src, 0, src.Size), bytes.NewReader(tail))
	}
	req, err := c.newRequest(ctx, http.MethodPost, "/userfiles", nil, newBody())
	if err != nil {
		return err
	}
	req.ContentLength = int64(len(pre)) + src.Size + int64(len(tail))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(newBody()), nil }
	req.Header.Set("Content-Type", mw.FormDataContentType())

	op := fmt.Sprintf("upload %q", name)
	resp, err := c.doOnce(op, req) // never twice: uploadOnce looks for the record first
	if err != nil {
		var se *remote.StatusError
		if errors.As(err, &se) {
			refineUploadError(se)
		}
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	// The quota refusal is HTTP 200 {"error": ...}.
	if msg, ok := errorIn200(raw); ok {
		return &remote.StatusError{Op: "cbrain: " + op, Method: req.Method, URL: redactURL(req.URL),
			Code: resp.StatusCode, Msg: msg, Kind: classifyNotice(msg)}
	}
	return nil
}

// refineUploadError gives upload refusals their precise sentinel: the
// validation notice (422) says whether the name is taken or illegal.
func refineUploadError(se *remote.StatusError) {
	l := strings.ToLower(se.Msg)
	switch {
	case se.Code == http.StatusRequestEntityTooLarge:
		se.Msg = "the portal's web server refused the file as too large (CBRAIN recommends SFTP data providers for files over 400 MB)"
	case strings.Contains(l, "already been taken"), strings.Contains(l, "already exists"):
		se.Kind = remote.ErrExist
	case strings.Contains(l, "invalid characters"):
		se.Kind = remote.ErrInvalid
	case strings.Contains(l, "does not exist"):
		se.Kind = remote.ErrNotFound
	case strings.Contains(l, "quota"):
		se.Kind = remote.ErrQuota
	}
}

// findOwned returns the userfile called exactly name (the portal compares
// names case-insensitively) at the top of provider dpID owned by me, or nil.
// On a portal that sends no browse_path (7.0.0, release.go) a match may
// sit in any subdirectory of a MultiLevel provider, so several may match:
// the newest is taken, which is the one an upload has just made.
func (c *Client) findOwned(ctx context.Context, me Identity, dpID int64, name string) (*Userfile, error) {
	return c.newestOwned(ctx, me, dpID, name, func(f *Userfile) bool {
		return f.Name == name && (f.BrowsePath == nil || *f.BrowsePath == "")
	})
}

// newestOwned asks the portal for the files called name on provider dpID
// owned by me (its name filter is a substring match, see userfiles.go),
// and returns the newest that keep accepts, or nil.
func (c *Client) newestOwned(ctx context.Context, me Identity, dpID int64, name string, keep func(*Userfile) bool) (*Userfile, error) {
	files, err := c.Userfiles(ctx, url.Values{
		"name":             {name},
		"data_provider_id": {strconv.FormatInt(dpID, 10)},
		"user_id":          {strconv.FormatInt(me.UserID, 10)},
	})
	if err != nil {
		return nil, err
	}
	return newest(files, func(f *Userfile) bool {
		return f.DataProviderID == dpID && f.UserID == me.UserID && keep(f)
	}), nil
}

// waitLanded polls userfile id with backoff until its size is known (the
// portal's background copy is done), until deadline.
func (c *Client) waitLanded(ctx context.Context, name string, id int64, deadline time.Time, limit time.Duration) (*Userfile, error) {
	delay := c.PollInterval
	for {
		uf, err := c.userfileIfExists(ctx, id)
		switch {
		case err != nil:
			return nil, err
		case uf == nil:
			return nil, fmt.Errorf("cbrain: upload %q: userfile %d disappeared while the portal was processing it: %w", name, id, remote.ErrNotFound)
		case uf.Size != nil:
			return uf, nil
		case time.Now().After(deadline):
			return nil, fmt.Errorf("cbrain: upload %q (userfile %d): the portal never finished processing it: its size is still unknown "+
				"after %s, so its background copy probably failed; delete it and copy the file again: %w",
				name, id, limit, remote.ErrTimeout)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(min(delay, time.Until(deadline)+time.Millisecond)):
		}
		delay = min(delay*2, 5*time.Second)
	}
}

// userfileIfExists is Userfile with a 404 answered as nil.
func (c *Client) userfileIfExists(ctx context.Context, id int64) (*Userfile, error) {
	uf, err := c.Userfile(ctx, id)
	if errors.Is(err, remote.ErrNotFound) {
		return nil, nil
	}
	return uf, err
}

// sameContent reports whether the landed userfile holds src: same size,
// and, when src.MD5 is known, the same MD5 (the portal gives no checksum,
// so the content is read back, streamed). Unreadable content (not in the
// portal's cache) counts as different: adopting a stranger's file would
// silently drop the user's data, refusing only costs an EEXIST.
func (c *Client) sameContent(ctx context.Context, uf *Userfile, src remote.Source) (bool, error) {
	if sizeOf(uf) != src.Size {
		return false, nil
	}
	if src.MD5 == nil {
		return true, nil
	}
	want, err := src.MD5()
	switch {
	case err != nil:
		return false, fmt.Errorf("cbrain: comparing userfile %d %q with the new content: %w", uf.ID, uf.Name, err)
	case len(want) == 0:
		return true, nil
	}
	body, err := c.getContent(ctx, contentRequest{userfileID: uf.ID, path: fmt.Sprintf("/userfiles/%d/content", uf.ID),
		what: fmt.Sprintf("userfile %d %q", uf.ID, uf.Name)}, 0, -1)
	if errors.Is(err, remote.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer body.Close()
	h := md5.New()
	if _, err := io.Copy(h, body); err != nil {
		return false, fmt.Errorf("cbrain: reading back userfile %d %q to compare it: %w: %w", uf.ID, uf.Name, err, remote.ErrUnavailable)
	}
	return bytes.Equal(h.Sum(nil), want), nil
}
