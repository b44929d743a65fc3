package main

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// byteSize is a pflag value accepting 512K, 256M, 1G, 1GiB, or bytes.
type byteSize int64

// String prints the largest exact unit, so --help shows 256M, not 268435456.
func (s *byteSize) String() string {
	n := int64(*s)
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if n != 0 && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}
func (s *byteSize) Type() string { return "size" }

func (s *byteSize) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s = byteSize(n)
	return nil
}

func parseSize(v string) (int64, error) {
	t := strings.TrimSpace(strings.ToUpper(v))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	// The messages do not repeat v: parseFlags puts it before them.
	if err != nil || n < 0 {
		return 0, errors.New("want a number of bytes with an optional K, M, G or T suffix, e.g. 256K")
	}
	if n > math.MaxInt64/mult {
		// Unchecked, 9000000T wrapped around to a negative size.
		return 0, errors.New("too large")
	}
	return n * mult, nil
}

// sizeText prints n as the flags take it (2M), rounded to one decimal
// (23.5G) when its largest unit does not divide it, for messages.
func sizeText(n int64) string {
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		switch {
		case n < u.size:
		case n%u.size == 0:
			return strconv.FormatInt(n/u.size, 10) + u.suffix
		default:
			return strconv.FormatFloat(float64(n)/float64(u.size), 'f', 1, 64) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}
