package vrchat

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/filesmount/filesmount/remote"
)

// uploadImage creates a tagged image File with POST /file/image (reference
// §5): one multipart/form-data request with the fields "tag" and "file".
// VRChat names the File itself and keeps neither md5 nor signature. The
// body is streamed from src with its exact length computed in advance.
func (c *Client) uploadImage(ctx context.Context, tag, name, mimeType string, src remote.Source) (*File, error) {
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	if err := mw.WriteField("tag", tag); err != nil {
		return nil, err
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, quoteEscaper.Replace(name)))
	h.Set("Content-Type", mimeType)
	if _, err := mw.CreatePart(h); err != nil {
		return nil, err
	}
	prefix := bytes.Clone(head.Bytes())
	head.Reset()
	if err := mw.Close(); err != nil { // writes the closing boundary
		return nil, err
	}
	suffix := head.Bytes()
	body := io.MultiReader(bytes.NewReader(prefix), io.NewSectionReader(src, 0, src.Size), bytes.NewReader(suffix))

	req, err := c.newRequest(ctx, http.MethodPost, "/file/image", nil, body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = int64(len(prefix)) + src.Size + int64(len(suffix))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	op := fmt.Sprintf("upload %q as a %q image", name, tag)
	resp, err := c.doOnce(op, c.api, req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var f File
	if err := decodeJSON(op, resp, &f); err != nil {
		return nil, err
	}
	if len(f.Versions) < 2 {
		return nil, fmt.Errorf("vrchat: %s: VRChat answered with a File without version 1", op)
	}
	return c.waitComplete(ctx, &f, 1, src.Size)
}

var quoteEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"", "\r", "", "\n", "")
