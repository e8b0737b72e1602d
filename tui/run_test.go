package tui

import (
	"reflect"
	"testing"
)

func TestSplitCommand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{in: "sleep 100", want: []string{"sleep", "100"}},
		{in: "  sh   -c  'echo hi; date' ", want: []string{"sh", "-c", "echo hi; date"}},
		{in: `echo "a \"b\" c" d\ e`, want: []string{"echo", `a "b" c`, "d e"}},
		{in: `echo ''`, want: []string{"echo", ""}},
		{in: `echo 'oops`, err: true},
		{in: `echo "oops`, err: true},
	} {
		got, err := splitCommand(tc.in)
		if (err != nil) != tc.err || !tc.err && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitCommand(%q) = %q, %v; want %q (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  bool
	}{
		{in: "512", want: 512}, {in: "64m", want: 64 << 20}, {in: "1g", want: 1 << 30}, {in: "2kb", want: 2048},
		{in: "1.5m", want: 3 << 19}, {in: "lots", err: true}, {in: "-1m", err: true}, {in: "", err: true},
	} {
		got, err := parseBytes(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}
