package faults

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Kind is what a Rule does to a request.
type Kind string

const (
	// Status answers with Rule.Status (and Retry-After if set) without
	// calling the handler.
	Status Kind = "status"
	// Latency waits Rule.Delay before calling the handler.
	Latency Kind = "latency"
	// Reset sends the headers and After body bytes, then resets the TCP
	// connection (SO_LINGER 0: an RST, not a FIN).
	Reset Kind = "reset"
	// Short sends the headers, announcing the full Content-Length, and
	// After body bytes, then closes the connection cleanly.
	Short Kind = "short"
	// Stall sends the headers and After body bytes, then sends nothing for
	// Delay (0: until the client gives up), then the rest of the body.
	Stall Kind = "stall"
)

// Kinds lists every Kind, in the order Stats and error messages use.
var Kinds = []Kind{Status, Latency, Reset, Short, Stall}

// Rule is one fault and the requests it applies to.
type Rule struct {
	Kind Kind
	// Route selects requests, see the package documentation ("" = all).
	Route string
	// Status is the HTTP status of a Status fault (400..599).
	Status int
	// RetryAfter, for a Status fault, is sent as the Retry-After header
	// (seconds or an HTTP date); "" sends none.
	RetryAfter string
	// Delay is the added latency of a Latency fault, or how long a Stall
	// lasts (0: until the request's context ends).
	Delay time.Duration
	// After is how many body bytes a Reset, Short or Stall lets through
	// first (capped at the body's length minus one).
	After int64
	// Count is how many requests the rule applies to (0: no limit).
	Count int
	// Probability, if not 0, is the chance that a matching request is
	// selected, drawn from the injector's seeded RNG.
	Probability float64
}

// Validate reports a rule whose fields do not fit its kind.
func (r Rule) Validate() error {
	switch r.Kind {
	case Status:
		if r.Status < 400 || r.Status > 599 {
			return fmt.Errorf("status %d: want an error status in 400..599", r.Status)
		}
	case Latency:
		if r.Delay <= 0 {
			return fmt.Errorf("latency needs a positive delay")
		}
	case Reset, Short, Stall:
	default:
		return fmt.Errorf("unknown kind %q (want one of %s)", r.Kind, kindList())
	}
	switch {
	case r.Kind != Status && (r.Status != 0 || r.RetryAfter != ""):
		return fmt.Errorf("%s: a status and retry-after only make sense for status faults", r.Kind)
	case r.Delay < 0:
		return fmt.Errorf("%s: negative delay %s", r.Kind, r.Delay)
	case r.Delay != 0 && r.Kind != Latency && r.Kind != Stall:
		return fmt.Errorf("%s: a delay only makes sense for latency and stall faults", r.Kind)
	case r.After < 0:
		return fmt.Errorf("%s: negative after %d", r.Kind, r.After)
	case r.After != 0 && !r.Kind.cutsBody():
		return fmt.Errorf("%s: after only makes sense for reset, short and stall faults", r.Kind)
	case r.Count < 0:
		return fmt.Errorf("%s: negative count %d", r.Kind, r.Count)
	case r.Probability < 0 || r.Probability > 1 || r.Probability != r.Probability:
		return fmt.Errorf("%s: probability %v outside 0..1", r.Kind, r.Probability)
	}
	return nil
}

func (k Kind) cutsBody() bool { return k == Reset || k == Short || k == Stall }

func kindList() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// matches reports whether the rule's Route selects a request with this
// route key and request line ("METHOD /path").
func (r *Rule) matches(key, line string) bool {
	if exact, ok := strings.CutPrefix(r.Route, "="); ok {
		return exact == key || exact == line
	}
	return strings.Contains(key, r.Route) || strings.Contains(line, r.Route)
}

// Injector applies Rules to requests. The zero value is not usable; call
// New. A nil *Injector is valid in Wrap and WrapWith (no faults).
type Injector struct {
	mu    sync.Mutex // guards everything below
	rules []*ruleState
	rng   *rand.Rand
	stats map[Kind]int64
}

type ruleState struct {
	Rule
	used int // requests selected so far (compared with Count)
}

// New returns an injector without rules. The seed makes Probability draws
// reproducible: the same requests in the same order get the same faults.
func New(seed int64) *Injector {
	return &Injector{
		rng:   rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)),
		stats: map[Kind]int64{},
	}
}

// Add appends rules; they apply to requests that arrive from now on. It
// panics on a rule that fails Validate: rules come from code (a test's
// mistake should stop it) or from Parse, which validates.
func (in *Injector) Add(rules ...Rule) {
	for _, r := range rules {
		if err := r.Validate(); err != nil {
			panic("faults: " + err.Error())
		}
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, r := range rules {
		in.rules = append(in.rules, &ruleState{Rule: r})
	}
}

// Reset removes every rule and zeroes the statistics. The RNG carries on.
func (in *Injector) Reset() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.rules = nil
	in.stats = map[Kind]int64{}
}

// Rules returns a copy of the current rules.
func (in *Injector) Rules() []Rule {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]Rule, len(in.rules))
	for i, r := range in.rules {
		out[i] = r.Rule
	}
	return out
}

// Stats returns how many faults of each kind were delivered since New or
// Reset (kinds that never fired are absent).
func (in *Injector) Stats() map[Kind]int64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make(map[Kind]int64, len(in.stats))
	for k, v := range in.stats {
		out[k] = v
	}
	return out
}

// Total returns how many faults of any kind were delivered.
func (in *Injector) Total() int64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	var n int64
	for _, v := range in.stats {
		n += v
	}
	return n
}

func (in *Injector) count(k Kind) {
	in.mu.Lock()
	in.stats[k]++
	in.mu.Unlock()
}

// pick chooses the latency rule and the response rule for a request (nil
// when none), using up one of their Counts.
func (in *Injector) pick(key string, r *http.Request) (lat, resp *Rule) {
	line := r.Method + " " + r.URL.Path
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, rs := range in.rules {
		isLat := rs.Kind == Latency
		switch {
		case isLat && lat != nil, !isLat && resp != nil:
			continue // this phase is decided: later rules are not used up
		case rs.Count > 0 && rs.used >= rs.Count:
			continue
		case rs.Kind.cutsBody() && r.Method == http.MethodHead:
			continue
		case !rs.matches(key, line):
			continue
		case rs.Probability > 0 && in.rng.Float64() >= rs.Probability:
			continue
		}
		rs.used++
		rule := rs.Rule
		if isLat {
			lat = &rule
		} else {
			resp = &rule
		}
		if lat != nil && resp != nil {
			break
		}
	}
	return lat, resp
}
