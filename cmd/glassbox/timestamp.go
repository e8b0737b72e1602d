package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// parseTimestamp reads a time as docker's --since and --until do (its timetypes.GetTimestamp):
// a Go duration is that long before now; an RFC 3339 time, with or without fraction, or a date
// or date and hour ("2006-01-02", "2006-01-02T15", "2006-01-02T15:04"), in the local zone
// unless it names one; otherwise Unix seconds with an optional fraction ("1700000000.5").
func parseTimestamp(value string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(value); value != "0" && err == nil {
		return now.Add(-d), nil
	}
	// A Z, a + or a third - (the zone's) means the value names its zone.
	local := !(strings.ContainsAny(value, "zZ+") || strings.Count(value, "-") == 3)
	var layout string
	switch {
	case strings.Contains(value, "."):
		layout = "2006-01-02T15:04:05.999999999"
		if !local {
			layout = time.RFC3339Nano
		}
	case strings.Contains(value, "T"):
		colons := strings.Count(value, ":")
		if !local && !strings.ContainsAny(value, "zZ") && colons > 0 {
			colons-- // the one in the zone's offset
		}
		layout = []string{"2006-01-02T15", "2006-01-02T15:04", "2006-01-02T15:04:05"}[min(colons, 2)]
		if !local {
			layout += "Z07:00"
		}
	default:
		layout = "2006-01-02"
		if !local {
			layout += "Z07:00"
		}
	}
	var t time.Time
	var err error
	if local {
		t, err = time.ParseInLocation(layout, value, now.Location())
	} else {
		t, err = time.Parse(layout, value)
	}
	if err == nil {
		return t, nil
	}
	if !strings.Contains(value, "-") { // not a date: Unix seconds
		if t, ok := parseUnixSeconds(value); ok {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("failed to parse value as time or duration: %q (want a duration such as 10m, an RFC 3339 time or Unix seconds)", value)
}

// parseUnixSeconds reads SECONDS[.FRACTION], exactly, without float rounding.
func parseUnixSeconds(value string) (time.Time, bool) {
	secs, frac, hasFrac := strings.Cut(value, ".")
	s, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || (hasFrac && (frac == "" || len(frac) > 9)) {
		return time.Time{}, false
	}
	var ns int64
	if hasFrac {
		if ns, err = strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64); err != nil || ns < 0 {
			return time.Time{}, false
		}
	}
	return time.Unix(s, ns), true
}
