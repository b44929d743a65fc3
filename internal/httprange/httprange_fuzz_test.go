package httprange

import (
	"fmt"
	"testing"
)

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-99/100", "bytes 5-9/*", "bytes */100", "bytes 0-1/-5", "bytes 5-1/3",
		"bytes +1-2/3", "bytes 1-x/3", "bytes 0-9223372036854775806/9223372036854775807", "bytes 00-01/02", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		r, err := ParseContentRange(h)
		if err != nil {
			return
		}
		if r.Start < 0 || r.End < r.Start || r.Len() <= 0 || (r.Total != Unknown && (r.Total <= r.End || r.Total < 0)) {
			t.Fatalf("ParseContentRange(%q) = %+v", h, r)
		}
		// Accepted headers re-parse to the same range from their
		// canonical form.
		tot := "*"
		if r.Total != Unknown {
			tot = fmt.Sprint(r.Total)
		}
		if again, err := ParseContentRange(fmt.Sprintf("bytes %d-%d/%s", r.Start, r.End, tot)); err != nil || again != r {
			t.Fatalf("%q: canonical form parses to %+v, %v", h, again, err)
		}
	})
}
