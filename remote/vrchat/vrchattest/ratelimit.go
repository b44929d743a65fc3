package vrchattest

import (
	"net/http"
	"time"
)

// Rate limiting as VRChat does it, as far as it is known
// (shared/reference/real-servers.md, VRChat item 3; vrchat-files-api.md
// §1.3, from VRChat's Creator Guidelines): a 429 in the usual error
// envelope, with no Retry-After and no X-RateLimit-* headers, and a
// lockout that lengthens when a client keeps hammering: a request retried
// about five times within six seconds. The thresholds are not published;
// the defaults below are those words, and Options can scale them for
// tests run at a faster clock.
//
// SetRateLimited answers 429 to everything until it is turned off (an API
// that never lets up); LockOut answers 429 for Options.RateLockout, and
// each burst of hammering restarts that lockout. Hammering is counted in
// both (Stats.LockoutsLengthened).

// Defaults of the lockout's Options.
const (
	defaultRateLockout      = time.Minute
	defaultRateHammerCount  = 5
	defaultRateHammerWindow = 6 * time.Second
)

// LockOut refuses every API request with 429 for Options.RateLockout from
// now, lengthened by hammering.
func (s *Server) LockOut() {
	s.mu.Lock()
	s.st.lockedUntil = time.Now().Add(s.rateLockout())
	s.mu.Unlock()
}

func (s *Server) rateLockout() time.Duration {
	if s.opts.RateLockout > 0 {
		return s.opts.RateLockout
	}
	return defaultRateLockout
}

// rateLimited decides whether an API request is refused with 429, and
// counts hammering.
func (s *Server) rateLimited() bool {
	now := time.Now()
	count, window := s.opts.RateHammerCount, s.opts.RateHammerWindow
	if count <= 0 {
		count = defaultRateHammerCount
	}
	if window <= 0 {
		window = defaultRateHammerWindow
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.st.rateLimited && !now.Before(s.st.lockedUntil) {
		return false
	}
	recent := s.st.refusedAt[:0]
	for _, t := range s.st.refusedAt {
		if now.Sub(t) < window {
			recent = append(recent, t)
		}
	}
	s.st.refusedAt = append(recent, now)
	if len(s.st.refusedAt) >= count {
		s.st.refusedAt = s.st.refusedAt[:0] // the next burst counts afresh
		if now.Before(s.st.lockedUntil) {
			s.st.lockedUntil = now.Add(s.rateLockout())
		}
		s.statsMu.Lock()
		s.stats.LockoutsLengthened++
		s.statsMu.Unlock()
	}
	s.statsMu.Lock()
	s.stats.RateLimited++
	s.statsMu.Unlock()
	return true
}

// writeRateLimited is the 429: the error envelope, no Retry-After.
func writeRateLimited(w http.ResponseWriter) {
	writeError(w, http.StatusTooManyRequests, msgRateLimited)
}
