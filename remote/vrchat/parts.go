package vrchat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/filesmount/filesmount/remote"
)

// Uploading one part ("file" or "signature") of a declared version, in the
// mode the server chose for it (FileData.category, reference §4.2-4.4).
// The bytes go to pre-signed storage URLs through the cookie-less storage
// client, streamed from the source with an explicit Content-Length (S3
// refuses chunked bodies).

// partJob is one part to upload.
type partJob struct {
	f           *File // the latest answer about the File
	n           int   // version number
	kind        string
	body        io.ReaderAt
	size        int64
	contentType string // for simple uploads (signed by the server)
	md5         string // base64, declared
}

func (j *partJob) op(what string) string {
	return fmt.Sprintf("upload %s of File %q (%s) version %d: %s", j.kind, j.f.Name, j.f.ID, j.n, what)
}

func (j *partJob) path(action string) string {
	return fmt.Sprintf("%s/%d/%s/%s", filePath(j.f.ID), j.n, j.kind, action)
}

// partOf returns a version's FileData of that kind.
func partOf(v *FileVersion, kind string) *FileData {
	switch kind {
	case "file":
		return v.File
	case "signature":
		return v.Signature
	case "delta":
		return v.Delta
	}
	return nil
}

// uploadPart sends the part if it is still waiting and returns the File as
// the last answer describes it.
func (c *Client) uploadPart(ctx context.Context, j *partJob) (*File, error) {
	fd := partOf(&j.f.Versions[j.n], j.kind)
	if fd == nil {
		return nil, fmt.Errorf("vrchat: %s: VRChat declared no such part", j.op("start"))
	}
	if fd.Status != StatusWaiting {
		return j.f, nil // uploaded by an earlier attempt
	}
	var etags []string
	// Every category but "simple" is uploaded in parts, as VRChat's SDK
	// does (VRCApi.UploadFile: `if (fileCategory != "simple")
	// UploadMultipart`): "multipart", and also "queued", the spec's
	// default category (schemas/FileData.yaml), never recorded.
	if fd.Category != "simple" {
		var err error
		if etags, err = c.uploadParts(ctx, j); err != nil {
			return nil, err
		}
	} else if err := c.withFreshURL(ctx, func() error {
		u, err := c.startUpload(ctx, j, 0)
		if err != nil {
			return err
		}
		_, err = c.putObject(ctx, j.op("storage PUT"), u, j.body, 0, j.size, j.contentType, j.md5)
		return err
	}); err != nil {
		return nil, err
	}
	return c.finishUpload(ctx, j, etags)
}

// uploadParts sends the multipart parts that storage does not have yet and
// returns every part's ETag in order. The status call says how many parts
// an earlier attempt already stored, so an interrupted upload resumes.
// Parts are PartSize bytes, the last one takes the remainder (up to twice
// PartSize), as VRChat's SDK does.
func (c *Client) uploadParts(ctx context.Context, j *partJob) ([]string, error) {
	var st struct {
		NextPartNumber int      `json:"nextPartNumber"`
		Etags          []string `json:"etags"`
	}
	if err := c.getJSON(ctx, j.op("status"), j.path("status"), nil, &st); err != nil {
		return nil, err
	}
	done := min(max(st.NextPartNumber, 0), len(st.Etags))
	etags := make([]string, 0, done+1)
	for _, e := range st.Etags[:done] {
		etags = append(etags, strings.Trim(e, `"'`))
	}
	size := c.upload.PartSize
	parts := max(1, int(j.size/size))
	for n := done + 1; n <= parts; n++ {
		off := int64(n-1) * size
		length := size
		if n == parts {
			length = j.size - off
		}
		var etag string
		err := c.withFreshURL(ctx, func() error {
			u, err := c.startUpload(ctx, j, n)
			if err != nil {
				return err
			}
			etag, err = c.putObject(ctx, j.op("storage PUT of part "+strconv.Itoa(n)), u, j.body, off, length, "", "")
			return err
		})
		if err != nil {
			return nil, err
		}
		if etag == "" {
			return nil, fmt.Errorf("vrchat: %s: storage gave no ETag for part %d", j.op("multipart"), n)
		}
		etags = append(etags, etag)
	}
	return etags, nil
}

// startUpload asks for a pre-signed PUT URL: for the whole part
// (partNumber 0), or for one multipart part.
func (c *Client) startUpload(ctx context.Context, j *partJob, partNumber int) (string, error) {
	var q url.Values
	if partNumber > 0 {
		q = url.Values{"partNumber": {strconv.Itoa(partNumber)}}
	}
	var out struct {
		URL string `json:"url"`
	}
	if err := c.sendJSON(ctx, j.op("start"), http.MethodPut, j.path("start"), true, q, nil, &out); err != nil {
		return "", err
	}
	if out.URL == "" {
		return "", fmt.Errorf("vrchat: %s: the answer has no upload URL", j.op("start"))
	}
	return out.URL, nil
}

// finishUpload tells VRChat the part is stored. If the answer is lost, the
// File is read back: a finish that took effect is not an error.
func (c *Client) finishUpload(ctx context.Context, j *partJob, etags []string) (*File, error) {
	var in any = map[string]string{"maxParts": "0", "nextPartNumber": "0"} // the spec's form for simple parts
	if etags != nil {
		in = map[string][]string{"etags": etags}
	}
	var f File
	err := c.sendJSON(ctx, j.op("finish"), http.MethodPut, j.path("finish"), false, nil, in, &f)
	if err == nil {
		return &f, nil
	}
	if !unsure(err) {
		return nil, err
	}
	g, gerr := c.File(ctx, j.f.ID)
	if gerr == nil && j.n < len(g.Versions) {
		if fd := partOf(&g.Versions[j.n], j.kind); fd != nil && fd.Status != StatusWaiting {
			return g, nil
		}
	}
	return nil, err
}

// putObject PUTs size bytes of body from off to a pre-signed URL and
// returns the unquoted ETag. contentType and contentMD5 are sent only if
// set: VRChat signs them into simple-upload URLs, and part URLs are signed
// without them, so sending them there would be refused.
func (c *Client) putObject(ctx context.Context, op, u string, body io.ReaderAt, off, size int64, contentType, contentMD5 string) (string, error) {
	open := func() (io.ReadCloser, error) {
		if size == 0 {
			return http.NoBody, nil
		}
		return io.NopCloser(io.NewSectionReader(body, off, size)), nil
	}
	rc, _ := open()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, rc)
	if err != nil {
		return "", fmt.Errorf("vrchat: %s: %w", op, err)
	}
	req.ContentLength = size
	req.GetBody = open // lets the transport resend on a dead keep-alive connection
	req.Header.Set("User-Agent", c.ua)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if contentMD5 != "" {
		req.Header.Set("Content-MD5", contentMD5)
	}
	resp, err := c.do(op, c.storage, req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		return "", fmt.Errorf("vrchat: %s: storage answered HTTP %d", op, resp.StatusCode)
	}
	return strings.Trim(resp.Header.Get("ETag"), `"'`), nil
}

// withFreshURL runs a step (start + storage PUT) again, under c.Retry, if
// its pre-signed URL had expired (403 "Request has expired"): the next
// start hands out a new one. Transient failures were already retried by
// Client.do inside the step.
func (c *Client) withFreshURL(ctx context.Context, step func() error) error {
	return c.Retry.Do(ctx, func(int) (time.Duration, bool, error) {
		err := step()
		return 0, expiredURL(err), err
	})
}

func expiredURL(err error) bool {
	var se *remote.StatusError
	return errors.As(err, &se) && se.Code == http.StatusForbidden && strings.Contains(se.Msg, "expired")
}
