package vrchat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/filesmount/filesmount/remote"
)

// The API calls that change Files (reference §3). POSTs are never retried
// (see Client.do): callers check the state instead.

// sendJSON sends in (if not nil) as a JSON body and decodes the answer
// into out (if not nil). idempotent says whether it may be retried.
func (c *Client) sendJSON(ctx context.Context, op, method, path string, idempotent bool, query url.Values, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := c.newRequest(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	send := c.doOnce
	if idempotent {
		send = c.do
	}
	resp, err := send(op, c.api, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode >= 300 {
			return fmt.Errorf("vrchat: %s: unexpected HTTP %d", op, resp.StatusCode)
		}
		return nil
	}
	return decodeJSON(op, resp, out)
}

func filePath(id string) string { return "/file/" + url.PathEscape(id) }

// createFile creates a File with only its empty version 0 (POST /file).
func (c *Client) createFile(ctx context.Context, name, mimeType, extension string) (*File, error) {
	in := map[string]string{"name": name, "mimeType": mimeType, "extension": extension}
	var f File
	if err := c.sendJSON(ctx, fmt.Sprintf("create File %q", name), http.MethodPost, "/file", false, nil, in, &f); err != nil {
		return nil, err
	}
	if f.ID == "" {
		return nil, fmt.Errorf("vrchat: create File %q: the answer has no File id", name)
	}
	return &f, nil
}

// digests are what POST /file/{id} declares: base64 MD5s and sizes.
type digests struct {
	FileMD5       string `json:"fileMd5"`
	FileSize      int64  `json:"fileSizeInBytes"`
	SignatureMD5  string `json:"signatureMd5"`
	SignatureSize int64  `json:"signatureSizeInBytes"`
}

// createVersion declares a new version (POST /file/{id}); the answer lists
// it last, in status "waiting".
func (c *Client) createVersion(ctx context.Context, f *File, d digests) (*File, error) {
	var out File
	op := fmt.Sprintf("create a version of File %q (%s)", f.Name, f.ID)
	if err := c.sendJSON(ctx, op, http.MethodPost, filePath(f.ID), false, nil, d, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// deleteVersion deletes version n, which VRChat allows only for the
// latest one.
func (c *Client) deleteVersion(ctx context.Context, f *File, n int) error {
	op := fmt.Sprintf("delete version %d of File %q (%s)", n, f.Name, f.ID)
	return c.sendJSON(ctx, op, http.MethodDelete, fmt.Sprintf("%s/%d", filePath(f.ID), n), false, nil, nil, nil)
}

// deleteFile deletes a File with all its versions.
func (c *Client) deleteFile(ctx context.Context, f *File) error {
	return c.sendJSON(ctx, fmt.Sprintf("delete File %q (%s)", f.Name, f.ID), http.MethodDelete, filePath(f.ID), true, nil, nil, nil)
}

// unsure reports an error after which a non-idempotent request may or may
// not have taken effect (the answer was lost), so the state must be read
// back before anything else is tried.
func unsure(err error) bool {
	var se *remote.StatusError
	if asStatus(err, &se) {
		return se.Code >= 500 && se.Code != http.StatusNotImplemented
	}
	return err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}
