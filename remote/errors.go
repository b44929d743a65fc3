package remote

import (
	"errors"
	"fmt"
)

// Sentinel errors. Backends wrap them (fmt.Errorf("...: %w", ErrNotFound))
// so that callers can test with errors.Is and still print a precise message.
var (
	// ErrNotFound: the object does not exist or is not visible to the user.
	ErrNotFound = errors.New("not found")
	// ErrPermission: the credentials are valid but the operation is not allowed.
	ErrPermission = errors.New("permission denied")
	// ErrNotPermitted: the remote never allows this operation on this
	// object, whoever asks (e.g. deleting a VRChat version that is not
	// the newest).
	ErrNotPermitted = errors.New("operation not permitted")
	// ErrAuth: the credentials were rejected (expired or invalid token/cookie).
	ErrAuth = errors.New("authentication rejected")
	// ErrExist: the target name is already taken.
	ErrExist = errors.New("already exists")
	// ErrConflict: the remote state forbids the operation right now.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the request (usually a name) is not acceptable to the remote.
	ErrInvalid = errors.New("invalid argument")
	// ErrUnavailable: the remote or the object is temporarily unavailable
	// (server down, content not synced yet, upload still processing).
	ErrUnavailable = errors.New("unavailable")
	// ErrNotReady: the object exists but its content is still being
	// produced (an upload being processed, an analysis not yet run); a
	// later attempt may succeed.
	ErrNotReady = errors.New("not ready yet")
	// ErrTimeout: the remote did not answer or finish in time.
	ErrTimeout = errors.New("timed out")
	// ErrReadOnly: the mount, the remote or the object does not accept writes.
	ErrReadOnly = errors.New("read-only")
	// ErrUnsupported: the remote API has no way to do this.
	ErrUnsupported = errors.New("not supported by the remote")
	// ErrTooLarge: the remote refused the size (HTTP 413).
	ErrTooLarge = errors.New("too large")
	// ErrQuota: the user's quota on the remote is exhausted.
	ErrQuota = errors.New("quota exceeded")
	// ErrCorrupt: the data read does not match what the remote promised
	// (length or checksum).
	ErrCorrupt = errors.New("data corrupt")
)

// StatusError is an HTTP answer that the backend could not turn into
// success. It keeps the status code and the remote's own message; Unwrap
// gives the sentinel that the status means, if any.
type StatusError struct {
	Op     string // what the client was doing, e.g. "list userfiles"
	Method string
	URL    string // without credentials
	Code   int
	Msg    string // decoded remote message, may be empty
	Kind   error  // sentinel, may be nil
}

func (e *StatusError) Error() string {
	msg := e.Msg
	if msg == "" {
		msg = "(empty body)"
	}
	return fmt.Sprintf("%s: %s %s: HTTP %d: %s", e.Op, e.Method, e.URL, e.Code, msg)
}

func (e *StatusError) Unwrap() error { return e.Kind }

// KindForStatus gives the sentinel conventionally meant by an HTTP status.
// Backends refine it where their API means something else.
func KindForStatus(code int) error {
	switch {
	case code == 401:
		return ErrAuth
	case code == 403:
		return ErrPermission
	case code == 404 || code == 410:
		return ErrNotFound
	case code == 409:
		return ErrConflict
	case code == 413:
		return ErrTooLarge
	case code == 422 || code == 400:
		return ErrInvalid
	case code == 408 || code == 504:
		return ErrTimeout
	case code == 429 || code >= 500:
		return ErrUnavailable
	}
	return nil
}
