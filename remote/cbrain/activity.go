package cbrain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/filesmount/filesmount/remote"
)

// ItemResult is the outcome of a multi-file operation for one userfile.
type ItemResult struct {
	ID int64
	OK bool
	// Message is the portal's message for the item: why it failed or was
	// skipped, or a note on success ("" when there is none).
	Message string
}

// Compress gzips SingleFiles (renamed name -> name.gz) and archives
// FileCollections (same name, archived: true), through POST
// /userfiles/compress, and waits for the background activity.
func (c *Client) Compress(ctx context.Context, ids ...int64) ([]ItemResult, error) {
	return c.runOp(ctx, "compress", http.MethodPost, "/userfiles/compress", map[string]any{"file_ids": ids}, ids)
}

// Uncompress reverses Compress (name.gz -> name; collections unarchived).
func (c *Client) Uncompress(ctx context.Context, ids ...int64) ([]ItemResult, error) {
	return c.runOp(ctx, "uncompress", http.MethodPost, "/userfiles/uncompress", map[string]any{"file_ids": ids}, ids)
}

// Sync asks the portal to copy files from their data providers into its
// cache (POST /userfiles/sync_multiple) and waits for it to finish.
func (c *Client) Sync(ctx context.Context, ids ...int64) ([]ItemResult, error) {
	return c.runOp(ctx, "sync", http.MethodPost, "/userfiles/sync_multiple", map[string]any{"file_ids": ids}, ids)
}

// Delete deletes userfiles (DELETE /userfiles/delete_files) and waits for
// the background activity. There is no DELETE /userfiles/:id.
func (c *Client) Delete(ctx context.Context, ids ...int64) ([]ItemResult, error) {
	return c.runOp(ctx, "delete", http.MethodDelete, "/userfiles/delete_files", map[string]any{"file_ids": ids}, ids)
}

// Move moves userfiles to another data provider (POST
// /userfiles/change_provider with "move"; ids are kept) and waits. A
// file whose name is taken on the destination fails; nothing is crushed.
func (c *Client) Move(ctx context.Context, destProvider int64, ids ...int64) ([]ItemResult, error) {
	// The "move" key must be present (any value): with neither "move" nor
	// "copy" the portal moves too, but that is an accident of its code.
	body := map[string]any{"file_ids": ids, "data_provider_id_for_mv_cp": destProvider, "move": "1"}
	return c.runOp(ctx, "move to provider "+strconv.FormatInt(destProvider, 10), http.MethodPost,
		"/userfiles/change_provider", body, ids)
}

// runOp starts a multi-file operation and waits for its background
// activity. ids the portal silently dropped (no access) and items it
// skipped come back as failed results, not as an error: the error is for
// the operation as a whole (refused, timed out, unreachable).
func (c *Client) runOp(ctx context.Context, op, method, path string, body map[string]any, ids []int64) ([]ItemResult, error) {
	if len(ids) == 0 {
		return nil, nil // an empty file_ids is answered with a redirect
	}
	var ans multiOpAnswer
	if err := c.sendJSON(ctx, op, method, path, false, body, &ans); err != nil {
		var se *remote.StatusError
		if errors.As(err, &se) && strings.Contains(se.Msg, "No appropriate files") {
			se.Kind = remote.ErrPermission // none of the files may be changed by this user
		}
		return nil, err
	}
	bacID, ok := ans.activityID()
	if !ok {
		// compress/uncompress answer "Nothing to compress" with a null id
		// when every file is already in the wanted state.
		msg := strings.TrimSpace(ans.Message + " " + ans.Notice)
		out := make([]ItemResult, len(ids))
		for i, id := range ids {
			out[i] = ItemResult{ID: id, Message: "skipped by the portal: " + msg}
		}
		return out, nil
	}
	bac, err := c.WaitActivity(ctx, bacID, op)
	if err != nil {
		return nil, err
	}
	return itemResults(bac, ids), nil
}

// WaitActivity polls GET /background_activities/:id with backoff until the
// activity has finished, for at most c.OpTimeout.
func (c *Client) WaitActivity(ctx context.Context, id int64, what string) (*BackgroundActivity, error) {
	ctx, cancel := context.WithTimeout(ctx, c.OpTimeout)
	defer cancel()
	delay := c.PollInterval
	for {
		bac, err := c.BackgroundActivity(ctx, id)
		switch {
		case err == nil && bac.Finished():
			return bac, nil
		case err != nil && ctx.Err() == nil && !retryable(err):
			return nil, err
		}
		select {
		case <-ctx.Done():
			if parent := context.Cause(ctx); errors.Is(parent, context.Canceled) {
				return nil, parent
			}
			return nil, fmt.Errorf("cbrain: %s: the portal's background activity %d did not finish within %s: %w",
				what, id, c.OpTimeout, remote.ErrTimeout)
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Second)
	}
}

// itemResults aligns a finished activity's messages with the ids asked
// for. A null message means success; when the whole activity Completed,
// a non-null message ("Skipped", a new id) is only a note.
func itemResults(bac *BackgroundActivity, ids []int64) []ItemResult {
	byID := map[int64]ItemResult{}
	for i, raw := range bac.Items {
		id, ok := anyInt(raw)
		if !ok {
			continue
		}
		r := ItemResult{ID: id, OK: bac.Status == "Completed"}
		if i < len(bac.Messages) && bac.Messages[i] != nil {
			r.Message = anyText(bac.Messages[i])
		} else if i < len(bac.Messages) {
			r.OK = true
		} else {
			r.Message = "not processed (background activity " + bac.Status + ")"
		}
		byID[id] = r
	}
	out := make([]ItemResult, len(ids))
	for i, id := range ids {
		r, ok := byID[id]
		if !ok {
			r = ItemResult{ID: id, Message: "not accepted by the portal (no access, or not in a state this operation applies to)"}
		}
		out[i] = r
	}
	return out
}

func anyInt(v any) (int64, bool) {
	switch x := v.(type) {
	case float64:
		return int64(x), x == float64(int64(x))
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	}
	return 0, false
}

func anyText(v any) string {
	if s, ok := v.(string); ok {
		return strings.TrimSpace(s)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// itemError turns a failed item into an error wrapping the sentinel its
// message suggests, naming the file.
func itemError(op string, uf *Userfile, r ItemResult, fallback error) error {
	kind := fallback
	switch l := strings.ToLower(r.Message); {
	case strings.Contains(l, "read-only"), strings.Contains(l, "read_only"), strings.Contains(l, "immutable"):
		kind = remote.ErrReadOnly
	case strings.Contains(l, "offline"):
		kind = remote.ErrUnavailable
	case strings.Contains(l, "in transfer"):
		kind = remote.ErrNotReady
	case strings.Contains(l, "already exists"):
		kind = remote.ErrExist
	case strings.Contains(l, "quota"):
		kind = remote.ErrQuota
	case strings.Contains(l, "not accepted by the portal"):
		kind = remote.ErrPermission
	}
	return fmt.Errorf("cbrain: %s %q (userfile %d): the portal refused: %s: %w", op, uf.Name, uf.ID, r.Message, kind)
}
