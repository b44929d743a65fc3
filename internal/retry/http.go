package retry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ParseRetryAfter reads a Retry-After header: delay-seconds or an HTTP
// date (RFC 9110 §10.2.3). A date in the past gives 0. ok is false when h
// is empty or malformed. The result is not capped: Policy.Do gives up
// rather than wait beyond MaxElapsed.
func ParseRetryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(h, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > math.MaxInt64/int64(time.Second) {
			return time.Duration(math.MaxInt64), true
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(h)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// RetryAfter is ParseRetryAfter of resp's header, 0 if absent.
func RetryAfter(resp *http.Response) time.Duration {
	d, _ := ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return d
}

// TransientStatus reports the HTTP statuses worth retrying an idempotent
// request on: rate limiting and the gateway/overload 5xx. 501 and other
// 5xx mean the request itself is the problem.
func TransientStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// TransientNetError reports whether a transport error (http.Client.Do
// failed) may go away by itself. Certificate problems do not; the
// caller's own cancellation is not a failure at all.
func TransientNetError(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	switch {
	case err == nil, errors.Is(err, context.Canceled), errors.As(err, &cv), errors.As(err, &ua), errors.As(err, &hn):
		return false
	}
	return true
}

// IsTimeout reports a network timeout (dial, TLS handshake, response
// headers), as opposed to a refusal or a reset.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
