package faults

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want []Rule
	}{
		{"", nil},
		{"status=503:count=3:route=/userfiles", []Rule{{Kind: Status, Status: 503, Count: 3, Route: "/userfiles"}}},
		{"status=429:retry-after=2:p=0.1", []Rule{{Kind: Status, Status: 429, RetryAfter: "2", Probability: 0.1}}},
		{"latency=50ms", []Rule{{Kind: Latency, Delay: 50 * time.Millisecond}}},
		{"reset=64k:p=0.1:route=GET /userfiles/:id/content", []Rule{{Kind: Reset, After: 64 << 10, Probability: 0.1,
			Route: "GET /userfiles/:id/content"}}},
		// route= may come first and still contain ':'; later options end it.
		{"short:route=GET /userfiles/:id/content:count=2", []Rule{{Kind: Short, Route: "GET /userfiles/:id/content", Count: 2}}},
		{"short:after=1000:route=s3", []Rule{{Kind: Short, After: 1000, Route: "s3"}}},
		{" stall:route=s3:count=1 , stall=5s:after=1m:route==GET s3 ", []Rule{
			{Kind: Stall, Route: "s3", Count: 1},
			{Kind: Stall, Delay: 5 * time.Second, After: 1 << 20, Route: "=GET s3"}}},
		{"stall:delay=1s", []Rule{{Kind: Stall, Delay: time.Second}}},
		{"reset", []Rule{{Kind: Reset}}},
	} {
		got, err := Parse(tc.spec)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.spec, got, err, tc.want)
			continue
		}
		// Round trip through the canonical form.
		again, err := Parse(Format(got))
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("Parse(Format(%q)) = Parse(%q) = %+v, %v", tc.spec, Format(got), again, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"boom", `rule 1 "boom": unknown fault "boom"`},
		{"latency=50ms,,reset", `rule 2 "": empty rule`},
		{"status", "status needs a code"},
		{"status=200", "want an error status in 400..599"},
		{"status=abc", "status=abc: want a non-negative integer"},
		{"latency", "latency needs a duration"},
		{"latency=fast", "latency=fast: want a duration"},
		{"latency=0s", "latency needs a positive delay"},
		{"reset=lots", `"lots": want a byte count`},
		{"reset:delay=1s", "a delay only makes sense for latency and stall"},
		{"latency=1s:after=5", "after only makes sense for reset, short and stall"},
		{"stall:retry-after=3", "retry-after only make sense for status"},
		{"status=429:retry-after=Wed 21 Oct", "want a number of seconds"},
		{"status=500:p=0", "want a probability in (0,1]"},
		{"status=500:p=1.5", "want a probability in (0,1]"},
		{"status=500:count=-1", "count=-1: want a non-negative integer"},
		{"status=500:count=2:count=3", "option count given twice"},
		{"status=500:colour=red", `bad option "colour=red"`},
		{"status=500:oops", `bad option "oops"`},
	} {
		_, err := Parse(tc.spec)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) error %v, want one containing %q", tc.spec, err, tc.want)
		}
	}
}
