// Package httprange parses the Content-Range header of a 206 answer
// strictly (RFC 9110 §14.4), for clients that must not trust a proxy's
// or a storage host's idea of which bytes it sent.
package httprange

import (
	"fmt"
	"strconv"
	"strings"
)

// Unknown is Range.Total when the header says "*".
const Unknown int64 = -1

// Range is "bytes Start-End/Total": End is inclusive.
type Range struct {
	Start, End int64
	Total      int64 // Unknown for "*"
}

// Len is the number of bytes the range covers.
func (r Range) Len() int64 { return r.End - r.Start + 1 }

// ParseContentRange parses "bytes START-END/TOTAL" (TOTAL may be "*").
// Only decimal digits are accepted (no sign, no spaces), START <= END,
// and END < TOTAL when TOTAL is known. The unsatisfied form "bytes */N"
// belongs to a 416 answer and is refused.
func ParseContentRange(h string) (Range, error) {
	bad := func() (Range, error) { return Range{}, fmt.Errorf("malformed Content-Range %q", h) }
	rest, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return bad()
	}
	span, tot, ok := strings.Cut(rest, "/")
	if !ok {
		return bad()
	}
	first, last, ok := strings.Cut(span, "-")
	if !ok {
		return bad()
	}
	var r Range
	var err error
	if r.Start, err = digits(first); err != nil {
		return bad()
	}
	if r.End, err = digits(last); err != nil {
		return bad()
	}
	if r.Start > r.End {
		return bad()
	}
	r.Total = Unknown
	if tot != "*" {
		if r.Total, err = digits(tot); err != nil || r.End >= r.Total {
			return bad()
		}
	}
	return r, nil
}

// digits parses a non-empty run of ASCII digits that fits an int64.
func digits(s string) (int64, error) {
	if s == "" || len(s) > 19 {
		return 0, strconv.ErrSyntax
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	return strconv.ParseInt(s, 10, 64)
}
