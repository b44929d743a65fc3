package httprange

import (
	"testing"
)

func TestParseContentRange(t *testing.T) {
	good := map[string]Range{
		"bytes 0-99/100":  {0, 99, 100},
		"bytes 5-9/*":     {5, 9, Unknown},
		"bytes 0-0/1":     {0, 0, 1},
		"bytes 10-19/100": {10, 19, 100},
	}
	for h, want := range good {
		if got, err := ParseContentRange(h); err != nil || got != want {
			t.Errorf("ParseContentRange(%q) = %+v, %v; want %+v", h, got, err, want)
		}
	}
	for _, h := range []string{"", "bytes ", "bytes */100", "bytes 0-1/-5", "bytes 5-1/3", "bytes +1-2/3", "bytes 1-x/3",
		"bytes -1-2/3", "bytes 0-99/99", "bytes  0-1/2", "BYTES 0-1/2", "bytes 0-1/2/3", "bytes 0--1/2", "items 0-1/2",
		"bytes 0-9223372036854775807/9223372036854775808", "bytes 0-1/ 2"} {
		if r, err := ParseContentRange(h); err == nil {
			t.Errorf("ParseContentRange(%q) = %+v, want an error", h, r)
		}
	}
}
