package cbrain

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
)

// PerPage is the page size used for listings: the portal's maximum.
const PerPage = 1000

// CheckSession verifies the token with GET /session and returns the user id.
func (c *Client) CheckSession(ctx context.Context) (int64, error) {
	var s Session
	if err := c.getJSON(ctx, "check session", "/session", nil, &s); err != nil {
		return 0, err
	}
	return s.UserID, nil
}

// DataProviders lists the providers the user can access (not paginated by
// the portal; capped at 1000).
func (c *Client) DataProviders(ctx context.Context) ([]DataProvider, error) {
	var dps []DataProvider
	err := c.getJSON(ctx, "list data providers", "/data_providers", nil, &dps)
	return dps, err
}

// Userfiles lists every userfile matching filter (equality filters on
// userfile columns), following pages of PerPage until a short page. The
// portal gives no totals, and old portals repeat the last page past the
// end, so a page is also considered the last if it repeats the previous one.
func (c *Client) Userfiles(ctx context.Context, filter url.Values) ([]Userfile, error) {
	var all []Userfile
	var lastFirst int64 = -1
	for page := 1; ; page++ {
		q := url.Values{}
		for k, v := range filter {
			q[k] = v
		}
		q.Set("per_page", strconv.Itoa(PerPage))
		q.Set("page", strconv.Itoa(page))
		var batch []Userfile
		if err := c.getJSON(ctx, "list userfiles", "/userfiles", q, &batch); err != nil {
			return nil, err
		}
		if len(batch) > 0 && batch[0].ID == lastFirst {
			break // an old portal repeating its last page
		}
		for i := range batch {
			c.release.note(&batch[i])
		}
		all = append(all, batch...)
		if len(batch) < PerPage {
			break
		}
		lastFirst = batch[0].ID
	}
	return all, nil
}

// Userfile fetches one userfile by id.
func (c *Client) Userfile(ctx context.Context, id int64) (*Userfile, error) {
	var u Userfile
	if err := c.getJSON(ctx, "show userfile", fmt.Sprintf("/userfiles/%d", id), nil, &u); err != nil {
		return nil, err
	}
	c.release.note(&u)
	return &u, nil
}

// BackgroundActivity fetches one background activity.
func (c *Client) BackgroundActivity(ctx context.Context, id int64) (*BackgroundActivity, error) {
	var b BackgroundActivity
	if err := c.getJSON(ctx, "show background activity", fmt.Sprintf("/background_activities/%d", id), nil, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// multiOpAnswer is the answer of the multi-file operations. compress and
// uncompress spell the id key "backgroud_activity_id".
type multiOpAnswer struct {
	Message   string `json:"message"`
	Notice    string `json:"notice"`
	BACID     *int64 `json:"background_activity_id"`
	BACIDTypo *int64 `json:"backgroud_activity_id"`
}

func (a *multiOpAnswer) activityID() (int64, bool) {
	switch {
	case a.BACID != nil:
		return *a.BACID, true
	case a.BACIDTypo != nil:
		return *a.BACIDTypo, true
	}
	return 0, false
}

// SyncToCache asks the portal to copy files from their data provider into
// its cache (POST /userfiles/sync_multiple) and returns the background
// activity id, if the portal created one.
func (c *Client) SyncToCache(ctx context.Context, ids ...int64) (int64, bool, error) {
	var ans multiOpAnswer
	err := c.sendJSON(ctx, "sync to portal cache", "POST", "/userfiles/sync_multiple", false, map[string]any{"file_ids": ids}, &ans)
	if err != nil {
		return 0, false, err
	}
	id, ok := ans.activityID()
	return id, ok, nil
}
