package main

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []time.Duration
		want time.Duration
	}{
		{[]time.Duration{3, 1, 2}, 2},
		{[]time.Duration{4, 1, 3, 2}, 2},
		{[]time.Duration{7}, 7},
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestRunCaseRotatesAndSkipsFailed(t *testing.T) {
	var order []string
	calls := map[string]int{}
	c := Case{Name: "t", Rounds: 3, Prepare: func(env *Env) ([]Contender, error) {
		mk := func(name string, err error) Contender {
			return Contender{Name: name, Run: func() error { order = append(order, name); calls[name]++; return err }}
		}
		return []Contender{mk("a", nil), mk("b", nil), mk("bad", errors.New("boom")), {Name: "gone", Unavailable: "not installed"}}, nil
	}}
	if err := runCase(c, "glassbox", t.TempDir(), 0, false); err != nil {
		t.Fatal(err)
	}
	if calls["a"] != 3 || calls["b"] != 3 {
		t.Errorf("calls = %v, want a and b 3 times", calls)
	}
	if calls["bad"] != 1 {
		t.Errorf("a failed contender ran %d times, want 1", calls["bad"])
	}
	// Round 1 starts at a, round 2 at b (bad has failed, gone is unavailable), round 3 at a again.
	want := "a b bad b a a b"
	if got := strings.Join(order, " "); got != want {
		t.Errorf("order = %q, want %q", got, want)
	}
}
