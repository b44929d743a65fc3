package cbrain

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"sync"
)

// Identity is who the API token belongs to.
type Identity struct {
	UserID int64
	Login  string
	// GroupID is the user's own UserGroup (named after the login), where
	// uploads go; 0 if it could not be found (the portal then picks it).
	GroupID int64
}

// identityCache remembers the Identity: it cannot change for a token.
// The lock is never held across a request; two concurrent first callers
// may both ask the portal, which is harmless.
type identityCache struct {
	mu sync.Mutex
	v  *Identity
}

// Me returns the token's user, asking the portal once (GET /session,
// GET /users/:id, GET /groups) and caching the answer.
func (c *Client) Me(ctx context.Context) (Identity, error) {
	c.me.mu.Lock()
	v := c.me.v
	c.me.mu.Unlock()
	if v != nil {
		return *v, nil
	}
	uid, err := c.CheckSession(ctx)
	if err != nil {
		return Identity{}, err
	}
	var u struct {
		Login string `json:"login"`
	}
	if err := c.getJSON(ctx, "show user", fmt.Sprintf("/users/%d", uid), nil, &u); err != nil {
		return Identity{}, err
	}
	id := Identity{UserID: uid, Login: u.Login}
	if id.GroupID, err = c.ownGroup(ctx, u.Login); err != nil {
		return Identity{}, err
	}
	c.me.mu.Lock()
	c.me.v = &id
	c.me.mu.Unlock()
	return id, nil
}

// ownGroup finds the UserGroup named after login. Normal users get every
// group at once (paging parameters ignored, so page 2 repeats page 1);
// admins get pages, maybe smaller than asked. So page on until the group
// is found, a page is empty, or a page repeats the previous one.
func (c *Client) ownGroup(ctx context.Context, login string) (int64, error) {
	var lastFirst int64 = -1
	for page := 1; page <= 1000; page++ {
		var groups []struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
			Type string `json:"type"`
		}
		q := url.Values{"per_page": {strconv.Itoa(PerPage)}, "page": {strconv.Itoa(page)}}
		if err := c.getJSON(ctx, "list groups", "/groups", q, &groups); err != nil {
			return 0, err
		}
		if len(groups) == 0 || groups[0].ID == lastFirst {
			return 0, nil
		}
		for _, g := range groups {
			if g.Type == "UserGroup" && g.Name == login {
				return g.ID, nil
			}
		}
		lastFirst = groups[0].ID
	}
	return 0, nil
}
