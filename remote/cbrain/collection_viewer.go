package cbrain

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/filesmount/filesmount/internal/retry"
	"github.com/filesmount/filesmount/remote"
)

// CBRAIN has no JSON endpoint that lists the files inside a
// FileCollection. What the portal offers (aces/cbrain, read 2026-12):
//
//   - The collection viewer's JSON partial, through the display action:
//     GET /userfiles/:id/display.json?viewer=file_collection&apply_div=false
//     (userfiles_controller.rb #display; file_collection.rb registers the
//     viewer with :if => :is_locally_synced?; the template
//     _file_collection.json.erb is `<%= @userfile.list_files.to_json %>`).
//     - Synced into the portal's cache: list_files(:all, :regular), every
//       regular file (no dot files) with its lstat times; Rails escapes
//       `<%=` output even in a .json.erb, so the body is HTML-escaped JSON.
//     - Not synced: the viewer's condition fails and the action's rescue
//       answers 200 text/html with a warning, after filing an error
//       message and an exception log entry for the admins. Every time.
//     - Without apply_div=false the action renders display.html.erb,
//       which has no JSON form: the same rescue, synced or not.
//   - content?content_loader=collection_file&arguments=<name>/<path>
//     reads one member from the portal's cache (404 when not synced).
//   - POST /userfiles/download of the collection: a tar.gz of all its
//     content, after the same sync, up to MAX_DOWNLOAD_MEGABYTES (400).
//
// So a listing syncs first (collection.go), then asks the viewer.

// errViewerRefused: the viewer answered its HTML warning instead of a
// listing. On the portal it has filed an error report. Like an answer
// that cannot be read, it is never asked again at once, and it maps to
// EIO (no sentinel).
var errViewerRefused = errors.New("the portal's collection viewer answered with an HTML warning instead of the file list " +
	"(the collection is not in the portal's cache, or the portal could not read it)")

// CollectionFiles asks the collection viewer for the files of collection
// id. It works only when the collection is in the portal's cache; a
// refusal wraps errViewerRefused. Each
// refusal costs an error report on the portal, so callers sync first
// (Store does).
func (c *Client) CollectionFiles(ctx context.Context, id int64) ([]FileInfo, error) {
	const op = "list collection"
	q := url.Values{"viewer": {"file_collection"}, "apply_div": {"false"}}
	req, err := c.newRequest(ctx, http.MethodGet, fmt.Sprintf("/userfiles/%d/display.json", id), q, nil)
	if err != nil {
		return nil, err
	}
	var files []FileInfo
	err = c.Retry.Do(ctx, func(attempt int) (time.Duration, bool, error) {
		resp, err := c.attempt(op, req, attempt)
		if err != nil {
			// Only answers that never reached the application are asked
			// again: a 500 from the display action has filed reports.
			return retry.Classify(resp, err, notProcessed)
		}
		defer resp.Body.Close()
		files, err = decodeCollectionAnswer(op, resp)
		return 0, brokenBody(err), err
	})
	return files, err
}

// decodeCollectionAnswer reads the viewer's answer: HTML-escaped JSON (or
// plain JSON, should a portal send it), the HTML warning of a refusal, or
// the portal's 200 {"error": ...}.
func decodeCollectionAnswer(op string, resp *http.Response) ([]FileInfo, error) {
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("cbrain: %s: reading answer: %w: %w", op, err, remote.ErrUnavailable)
	}
	if msg, ok := errorIn200(raw); ok {
		return nil, &remote.StatusError{Op: "cbrain: " + op, Method: resp.Request.Method, URL: redactURL(resp.Request.URL),
			Code: resp.StatusCode, Msg: msg, Kind: classifyNotice(msg)}
	}
	body := bytes.TrimSpace(raw)
	switch {
	case bytes.HasPrefix(body, []byte("<")):
		return nil, fmt.Errorf("cbrain: %s: %s: %w", op, redactURL(resp.Request.URL), errViewerRefused)
	case !bytes.HasPrefix(body, []byte("[")):
		return nil, fmt.Errorf("cbrain: %s: unexpected answer (%d bytes, neither a file list nor the viewer's warning)", op, len(raw))
	}
	var files []FileInfo
	// Plain JSON first: an escaped non-empty list is never valid JSON (its
	// keys' quotes are &quot;), and the empty list reads the same both
	// ways. Unescaping is exact: every & of the escaped body starts one
	// of the five entities ERB::Util.html_escape writes.
	if err := json.Unmarshal(body, &files); err != nil {
		if err := json.Unmarshal([]byte(html.UnescapeString(string(body))), &files); err != nil {
			return nil, fmt.Errorf("cbrain: %s: unexpected answer (%d bytes, not the file list expected even once "+
				"HTML-unescaped): %w", op, len(raw), err)
		}
	}
	return files, nil
}
