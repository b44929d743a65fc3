package faults

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Grammar is the --faults syntax, for help texts.
//
//	SPEC   = RULE { "," RULE }
//	RULE   = KIND [ "=" VALUE ] { ":" OPTION }
//	KIND   = status | latency | reset | short | stall
//	VALUE  = status: the HTTP status (required); latency: the delay
//	         (required); reset, short: bytes sent first (like after=);
//	         stall: how long (like delay=; none = until the client gives up)
//	OPTION = route=TEXT | count=N | p=FLOAT | after=BYTES | delay=DURATION
//	       | retry-after=SECONDS
//
// DURATION is Go's (50ms, 2s, 1m30s); BYTES an integer with an optional
// k, m or g suffix (KiB, MiB, GiB); p is in (0,1]. route= may contain ':'
// (route keys do: "GET /userfiles/:id/content"): a ':' segment that does
// not start with an option name and '=' continues the route. Rules are
// separated by ',' (so a route cannot contain one) and may be surrounded
// by spaces.
//
// Examples:
//
//	status=503:count=3:route=/userfiles
//	status=429:retry-after=2:p=0.1
//	latency=50ms
//	reset=64k:p=0.1:route=GET /userfiles/:id/content
//	short:after=1000:route=s3
//	stall:route=s3:count=1
//	stall=5s:after=1m:route=GET s3
const Grammar = `SPEC = RULE{,RULE}; RULE = KIND[=VALUE]{:OPTION}; KIND = status|latency|reset|short|stall;
VALUE: status code (status), delay (latency), bytes sent first (reset, short), stall duration (stall; none = until the client gives up);
OPTION = route=TEXT (substring of the route key or of "METHOD /path"; "=TEXT" exact) | count=N | p=FLOAT | after=BYTES | delay=DURATION | retry-after=SECONDS`

// options in the order String writes them (route last: it may contain ':').
var optionNames = []string{"after", "delay", "retry-after", "count", "p", "route"}

// Parse reads a --faults specification (see Grammar) into validated
// rules. An empty spec gives no rules.
func Parse(spec string) ([]Rule, error) {
	var rules []Rule
	if strings.TrimSpace(spec) == "" {
		return nil, nil
	}
	for i, text := range strings.Split(spec, ",") {
		text = strings.TrimSpace(text)
		r, err := parseRule(text)
		if err != nil {
			return nil, fmt.Errorf("faults: rule %d %q: %w", i+1, text, err)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

func parseRule(text string) (Rule, error) {
	if text == "" {
		return Rule{}, fmt.Errorf("empty rule (two commas in a row?)")
	}
	segs := strings.Split(text, ":")
	kind, value, hasValue := strings.Cut(segs[0], "=")
	r := Rule{Kind: Kind(kind)}
	var err error
	switch r.Kind {
	case Status:
		if !hasValue {
			return r, fmt.Errorf("status needs a code: status=503")
		}
		r.Status, err = parseInt("status", value)
	case Latency:
		if !hasValue {
			return r, fmt.Errorf("latency needs a duration: latency=50ms")
		}
		r.Delay, err = parseDuration("latency", value)
	case Reset, Short:
		if hasValue {
			r.After, err = parseBytes(value)
		}
	case Stall:
		if hasValue {
			r.Delay, err = parseDuration("stall", value)
		}
	default:
		return r, fmt.Errorf("unknown fault %q (want one of %s)", kind, kindList())
	}
	if err != nil {
		return r, err
	}
	seen := map[string]bool{}
	inRoute := false
	for _, seg := range segs[1:] {
		name, val, ok := strings.Cut(seg, "=")
		if !ok || !isOption(name) {
			if inRoute {
				r.Route += ":" + seg
				continue
			}
			return r, fmt.Errorf("bad option %q (want NAME=VALUE with NAME one of %s)", seg, strings.Join(optionNames, ", "))
		}
		if seen[name] {
			return r, fmt.Errorf("option %s given twice", name)
		}
		seen[name] = true
		inRoute = name == "route"
		if err := r.setOption(name, val); err != nil {
			return r, err
		}
	}
	if err := r.Validate(); err != nil {
		return r, err
	}
	return r, nil
}

func isOption(name string) bool {
	for _, o := range optionNames {
		if o == name {
			return true
		}
	}
	return false
}

func (r *Rule) setOption(name, val string) error {
	var err error
	switch name {
	case "route":
		r.Route = val
	case "count":
		r.Count, err = parseInt("count", val)
	case "p":
		r.Probability, err = strconv.ParseFloat(val, 64)
		if err != nil || !(r.Probability > 0 && r.Probability <= 1) {
			return fmt.Errorf("p=%s: want a probability in (0,1] (leave p out for always)", val)
		}
	case "after":
		r.After, err = parseBytes(val)
	case "delay":
		r.Delay, err = parseDuration("delay", val)
	case "retry-after":
		// Seconds only: an HTTP date contains ':' and ',', which the
		// grammar uses (the Go API takes any value).
		if _, e := strconv.ParseUint(val, 10, 32); e != nil {
			return fmt.Errorf("retry-after=%s: want a number of seconds", val)
		}
		r.RetryAfter = val
	}
	return err
}

func parseInt(name, s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s=%s: want a non-negative integer", name, s)
	}
	return n, nil
}

func parseDuration(name, s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s=%s: want a duration like 50ms or 2s", name, s)
	}
	return d, nil
}

// parseBytes reads "65536", "64k", "1m", "2g" (binary multiples).
func parseBytes(s string) (int64, error) {
	mult := int64(1)
	num := s
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k', 'K':
			mult, num = 1<<10, s[:n-1]
		case 'm', 'M':
			mult, num = 1<<20, s[:n-1]
		case 'g', 'G':
			mult, num = 1<<30, s[:n-1]
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q: want a byte count like 65536 or 64k", s)
	}
	return n * mult, nil
}

// String writes the rule in Parse's syntax (the kind's value as an
// option, route last); Parse(r.String()) gives r back for any rule Parse
// accepts.
func (r Rule) String() string {
	var b strings.Builder
	b.WriteString(string(r.Kind))
	switch r.Kind {
	case Status:
		b.WriteString("=" + strconv.Itoa(r.Status))
	case Latency:
		b.WriteString("=" + r.Delay.String())
	}
	opt := func(name, val string) { b.WriteString(":" + name + "=" + val) }
	if r.After != 0 {
		opt("after", strconv.FormatInt(r.After, 10))
	}
	if r.Delay != 0 && r.Kind != Latency {
		opt("delay", r.Delay.String())
	}
	if r.RetryAfter != "" {
		opt("retry-after", r.RetryAfter)
	}
	if r.Count != 0 {
		opt("count", strconv.Itoa(r.Count))
	}
	if r.Probability != 0 {
		opt("p", strconv.FormatFloat(r.Probability, 'g', -1, 64))
	}
	if r.Route != "" {
		opt("route", r.Route)
	}
	return b.String()
}

// Format writes rules in Parse's syntax.
func Format(rules []Rule) string {
	s := make([]string, len(rules))
	for i, r := range rules {
		s[i] = r.String()
	}
	return strings.Join(s, ",")
}
