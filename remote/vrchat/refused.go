package vrchat

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/filesmount/filesmount/remote"
)

// Refused downloads. VRChat documents downloads of images only (spec
// openapi/components/responses/files/RawFileResponse.yaml, `image/*`,
// added by spec PR #468, whose author could not download vrca or
// unitypackage Files); VRCX #416 says asset URLs need the game's own
// authentication. So a 401 or 403 on a download, or on one of its
// redirects, may mean "VRChat does not serve this kind of File to a user
// session" while the session is perfectly valid
// (shared/reference/real-servers.md, VRChat items 1 and 2). Telling the
// user to log in again would send them round in circles; only the API
// itself can say whether the session is still good, so it is asked once
// (GET /auth/user), and its verdict is reused for a while:
//
//   - the session is valid: the download is refused. The read fails with
//     EACCES (remote.ErrPermission) and one line naming the kind of File;
//     the refusal is remembered for that File, so that a program reading
//     it block after block does not ask again each time. Other Files keep
//     working.
//   - /auth/user refuses the session too: it has expired, and the user is
//     told to log in again (remote.ErrAuth). The daemon never logs in by
//     itself: each login makes a new session, and VRChat limits them.
//   - the check itself fails (network, 5xx, 429): EIO, saying so.

const (
	// sessionVerdictTTL is how long a session check's verdict is reused.
	sessionVerdictTTL = 30 * time.Second
	// refusalTTL is how long a refused File is answered from memory.
	refusalTTL = 10 * time.Minute
)

// sessionCheck runs and remembers GET /auth/user after a refused download.
type sessionCheck struct {
	group singleflight.Group // one check at a time, shared by concurrent refusals

	mu      sync.Mutex // protects checked and verdict
	checked time.Time  // when verdict was found; zero: never
	verdict error      // nil: valid; wraps remote.ErrAuth: expired
}

// sessionVerdict is nil if the session is valid, an error wrapping
// remote.ErrAuth if VRChat refuses it, and any other error if the check
// could not be made (that one is not remembered).
func (c *Client) sessionVerdict(ctx context.Context) error {
	sc := &c.sessions
	sc.mu.Lock()
	if !sc.checked.IsZero() && time.Since(sc.checked) < sessionVerdictTTL {
		v := sc.verdict
		sc.mu.Unlock()
		return v
	}
	sc.mu.Unlock()
	ch := sc.group.DoChan("check", func() (any, error) {
		// Detached from one reader's cancellation: others share the answer.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, err := c.CurrentUser(cctx)
		if err == nil || errors.Is(err, remote.ErrAuth) {
			sc.mu.Lock()
			sc.checked, sc.verdict = time.Now(), err
			sc.mu.Unlock()
		}
		return nil, err
	})
	select {
	case r := <-ch:
		return r.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// refusals remembers the Files whose downloads VRChat refused to a valid
// session.
type refusals struct {
	mu    sync.Mutex // protects byID and kinds
	byID  map[string]refusal
	kinds map[string]string // File id → kind, noted when its versions are listed
	now   func() time.Time  // nil: time.Now
}

type refusal struct {
	err error
	at  time.Time
}

func (r *refusals) clock() time.Time {
	if r.now != nil {
		return r.now()
	}
	return time.Now()
}

// noteKind remembers what kind of File f is, for the refusal message.
func (r *refusals) noteKind(f *File) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.kinds == nil || len(r.kinds) >= maxTargets {
		r.kinds = map[string]string{}
	}
	r.kinds[f.ID] = fileKind(f.MimeType, f.ext(), f.Tags)
}

// kind is f's kind if its versions were listed, else the one its file
// name's extension says.
func (r *refusals) kind(id, name string) string {
	r.mu.Lock()
	k, ok := r.kinds[id]
	r.mu.Unlock()
	if ok {
		return k
	}
	return fileKind("", path.Ext(name), nil)
}

// refused returns the remembered refusal of File id, if still fresh.
func (r *refusals) refused(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	rf, ok := r.byID[id]
	if !ok {
		return nil
	}
	if r.clock().Sub(rf.at) >= refusalTTL {
		delete(r.byID, id)
		return nil
	}
	return rf.err
}

func (r *refusals) remember(id string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byID == nil || len(r.byID) >= maxTargets {
		r.byID = map[string]refusal{}
	}
	r.byID[id] = refusal{err: err, at: r.clock()}
}

// fileKind names a kind of File from its MIME type, extension and tags
// (vrchat-files-api.md §2.5, the SDK's extension → MIME mapping).
func fileKind(mime, ext string, tags []string) string {
	ext = strings.ToLower(ext)
	switch {
	case mime == "application/x-avatar" || ext == ".vrca":
		return "avatar"
	case mime == "application/x-world" || ext == ".vrcw":
		return "world"
	case mime == "application/x-prop" || ext == ".vrcp":
		return "prop"
	case ext == ".unitypackage":
		return "unitypackage"
	case mime == "application/x-rsync-signature" || ext == ".sig":
		return "signature"
	case mime == "application/x-rsync-delta" || ext == ".delta":
		return "delta"
	case strings.HasPrefix(mime, "image/") || isImageExt(ext):
		for _, t := range tags {
			if t != "" {
				return t + " image"
			}
		}
		return "image"
	case mime == "application/gzip" || ext == ".gz":
		return "gzip archive"
	case ext != "":
		return ext + " file"
	case mime != "":
		return mime + " file"
	}
	return "file"
}

func isImageExt(ext string) bool {
	switch ext {
	case ".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff":
		return true
	}
	return false
}

// refusedError is a download VRChat refused to a session it still
// accepts. It unwraps to remote.ErrPermission (EACCES).
type refusedError struct {
	kind    string
	id      string
	version int
	cause   string // the refusing answer, e.g. `HTTP 401 "Missing Credentials" from GET https://...`
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("vrchat: download of %s version %d: VRChat does not serve this %s to a user session "+
		"(%s; the session itself is valid, so logging in again would not help)", e.id, e.version, e.kind, e.cause)
}

func (e *refusedError) Unwrap() error { return remote.ErrPermission }

// refusedStatus reports whether err is a 401 or 403 answer to a download
// (not the firewall's 403, which is about the User-Agent).
func refusedStatus(err error) (*remote.StatusError, bool) {
	var se *remote.StatusError
	if !asStatus(err, &se) || (se.Code != http.StatusUnauthorized && se.Code != http.StatusForbidden) {
		return nil, false
	}
	return se, !strings.HasPrefix(se.Msg, wafRefusal)
}

// refusedDownload turns a 401/403 on a download of File id into what the
// session check says it is (see the top of this file).
func (c *Client) refusedDownload(ctx context.Context, r *refusals, id string, version int, kind string, se *remote.StatusError) error {
	cause := fmt.Sprintf("HTTP %d", se.Code)
	if msg := strings.TrimSuffix(se.Msg, sessionExpiredHint); msg != "" {
		cause += fmt.Sprintf(" %q", msg)
	}
	cause += " from " + se.Method + " " + se.URL
	verdict := c.sessionVerdict(ctx)
	switch {
	case verdict == nil:
		err := &refusedError{kind: kind, id: id, version: version, cause: cause}
		r.remember(id, err)
		return err
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(verdict, remote.ErrAuth):
		return fmt.Errorf("vrchat: download of %s version %d refused (%s), and GET /auth/user refuses the session too: "+
			"it has expired or was revoked: run `filesmount login vrchat`: %w", id, version, cause, remote.ErrAuth)
	}
	// %v, not %w: whatever broke the check, the read fails with EIO.
	return fmt.Errorf("vrchat: download of %s version %d refused (%s), and checking the session failed (%v): %w",
		id, version, cause, verdict, remote.ErrUnavailable)
}
