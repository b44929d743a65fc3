package main

import "testing"

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"4096": 4096, "512K": 512 << 10, "256M": 256 << 20, "1G": 1 << 30, "2GiB": 2 << 30, "1mb": 1 << 20} {
		got, err := parseSize(in)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for in, want := range map[int64]string{256 << 20: "256M", 8 << 30: "8G", 256 << 10: "256K", 1000: "1000"} {
		b := byteSize(in)
		if got := b.String(); got != want {
			t.Errorf("byteSize(%d).String() = %q, want %q", in, got, want)
		}
	}
	for _, bad := range []string{"", "x", "-1M", "1.5G"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) accepted", bad)
		}
	}
}
