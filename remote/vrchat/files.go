package vrchat

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/filesmount/filesmount/remote"
)

// PageSize is the largest page GET /files gives.
const PageSize = 100

// Files lists the user's Files (with tag != "": only those with that tag),
// page after page until a short page.
func (c *Client) Files(ctx context.Context, tag string) ([]File, error) {
	var all []File
	for offset := 0; ; offset += PageSize {
		q := url.Values{"n": {strconv.Itoa(PageSize)}, "offset": {strconv.Itoa(offset)}}
		if tag != "" {
			q.Set("tag", tag)
		}
		var page []File
		if err := c.getJSON(ctx, "list files", "/files", q, &page); err != nil {
			return nil, err
		}
		if len(page) > 0 && len(all) >= PageSize && page[0].ID == all[len(all)-PageSize].ID {
			return all, nil // a server repeating its last page: stop, don't loop forever
		}
		all = append(all, page...)
		if len(page) < PageSize {
			return all, nil
		}
	}
}

// File fetches one File with all its versions.
func (c *Client) File(ctx context.Context, id string) (*File, error) {
	var f File
	if err := c.getJSON(ctx, "show file", "/file/"+url.PathEscape(id), nil, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

// AnalysisVariants are the analysis reports VRChat keeps for an avatar
// version: "" (the main one), "security" and "standard".
var AnalysisVariants = []string{"", "security", "standard"}

// Analysis opens an avatar version's analysis report (JSON). VRChat
// answers 202 while the analysis has not run yet.
func (c *Client) Analysis(ctx context.Context, id string, version int, variant string) (*remote.Body, error) {
	path := fmt.Sprintf("/analysis/%s/%d", url.PathEscape(id), version)
	if variant != "" {
		path += "/" + variant
	}
	req, err := c.newRequest(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.do("read analysis", c.api, req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusAccepted {
		resp.Body.Close()
		return nil, fmt.Errorf("vrchat: analysis of %s version %d: not yet available (HTTP 202): %w", id, version, remote.ErrNotReady)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("vrchat: analysis of %s version %d: unexpected HTTP %d", id, version, resp.StatusCode)
	}
	return &remote.Body{ReadCloser: resp.Body, Size: resp.ContentLength}, nil
}
