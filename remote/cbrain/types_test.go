package cbrain

import (
	"encoding/json"
	"testing"
	"time"
)

// TestPortalTime: collection file lists carry Ruby Times rendered by
// Rails (ISO 8601 with milliseconds and an offset); provider listings
// document epoch seconds. Anything else is no time, never a failed list.
func TestPortalTime(t *testing.T) {
	for _, tc := range []struct {
		json string
		want time.Time
	}{
		{`"2026-03-01T12:00:00.250-05:00"`, time.Date(2026, 3, 1, 17, 0, 0, 250e6, time.UTC)},
		{`"2026-03-01T12:00:00.000+00:00"`, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)},
		{`"2026-03-01T12:00:00Z"`, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)},
		{`1772366400`, time.Unix(1772366400, 0)},
		{`null`, time.Time{}},
		{`"yesterday"`, time.Time{}},
		{`{"a":1}`, time.Time{}},
		{`-5`, time.Time{}},
		{`1e300`, time.Time{}},
	} {
		var fi FileInfo
		if err := json.Unmarshal([]byte(`{"name":"c/a","mtime":`+tc.json+`}`), &fi); err != nil {
			t.Errorf("%s: %v", tc.json, err)
			continue
		}
		if !fi.Mtime.Equal(tc.want) {
			t.Errorf("%s: %v, want %v", tc.json, fi.Mtime.Time, tc.want)
		}
	}
}
