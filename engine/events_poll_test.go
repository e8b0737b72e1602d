package engine

import (
	"testing"
	"time"
)

// Options.EventsPoll sets how often Events looks for new lines; unset, it is 100ms.
func TestOpenEventsPoll(t *testing.T) {
	for _, tc := range []struct{ give, want time.Duration }{{0, 100 * time.Millisecond}, {time.Second, time.Second}} {
		e, err := Open(Options{Root: t.TempDir(), EventsPoll: tc.give})
		if err != nil {
			t.Fatal(err)
		}
		if e.eventsPoll != tc.want {
			t.Errorf("EventsPoll %v: polls every %v, want %v", tc.give, e.eventsPoll, tc.want)
		}
	}
}
