package retry

import (
	"errors"
	"net/http"
	"time"

	"github.com/filesmount/filesmount/remote"
)

// NetError is a transport failure: no HTTP answer came back. Err is the
// message for the user; Cause is what http.Client.Do said, which decides
// whether trying again may help.
type NetError struct {
	Err   error
	Cause error
}

func (e *NetError) Error() string { return e.Err.Error() }
func (e *NetError) Unwrap() error { return e.Err }

// Classify is the verdict a backend's attempt gives Policy.Do: whether its
// failure is transient, and how long the server asked to wait. transient
// decides for HTTP answers (nil: TransientStatus of the code).
func Classify(resp *http.Response, err error, transient func(*remote.StatusError) bool) (time.Duration, bool, error) {
	var ne *NetError
	var se *remote.StatusError
	switch {
	case err == nil:
		return 0, false, nil
	case errors.As(err, &ne):
		return 0, TransientNetError(ne.Cause), err
	case errors.As(err, &se) && resp != nil:
		if transient == nil {
			return RetryAfter(resp), TransientStatus(se.Code), err
		}
		return RetryAfter(resp), transient(se), err
	}
	return 0, false, err
}
