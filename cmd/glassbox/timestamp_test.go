package main

import (
	"testing"
	"time"
)

// docker's time forms for --since and --until, and what is refused.
func TestParseTimestamp(t *testing.T) {
	zone := time.FixedZone("X", 2*3600)
	now := time.Date(2026, 12, 6, 23, 0, 0, 0, zone)
	for _, tc := range []struct {
		give string
		want time.Time // zero: refused
	}{
		{"10m", now.Add(-10 * time.Minute)},
		{"1h30m", now.Add(-90 * time.Minute)},
		{"0", time.Unix(0, 0)},
		{"1700000000", time.Unix(1700000000, 0)},
		{"1700000000.5", time.Unix(1700000000, 500000000)},
		{"1700000000.000000001", time.Unix(1700000000, 1)},
		{"2026-12-06T21:00:00Z", time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC)},
		{"2026-12-06T21:00:00.25Z", time.Date(2026, 12, 6, 21, 0, 0, 250000000, time.UTC)},
		{"2026-12-06T21:00:00+01:00", time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC)},
		{"2026-12-06T21:00:00-01:00", time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC)},
		{"2026-12-06T21:00:00", time.Date(2026, 12, 6, 21, 0, 0, 0, zone)},
		{"2026-12-06T21:30", time.Date(2026, 12, 6, 21, 30, 0, 0, zone)},
		{"2026-12-06T21", time.Date(2026, 12, 6, 21, 0, 0, 0, zone)},
		{"2026-12-06", time.Date(2026, 12, 6, 0, 0, 0, 0, zone)},
		{"2026-12-06T21:00:00.5", time.Date(2026, 12, 6, 21, 0, 0, 500000000, zone)},
		{"", time.Time{}},
		{"yesterday", time.Time{}},
		{"10 minutes", time.Time{}},
		{"2026-13-06", time.Time{}},
		{"2026-12-06T25:00:00Z", time.Time{}},
		{"1700000000.", time.Time{}},
		{"1700000000.1234567890", time.Time{}},
		{"1700000000.-5", time.Time{}},
		{"-5", time.Time{}},
		{"1e9", time.Time{}},
	} {
		got, err := parseTimestamp(tc.give, now)
		switch {
		case tc.want.IsZero() && err == nil:
			t.Errorf("%q: got %v, want refused", tc.give, got)
		case !tc.want.IsZero() && err != nil:
			t.Errorf("%q: %v", tc.give, err)
		case !tc.want.IsZero() && !got.Equal(tc.want):
			t.Errorf("%q: got %v, want %v", tc.give, got, tc.want)
		}
	}
}
