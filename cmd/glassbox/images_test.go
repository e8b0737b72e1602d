package main

import "testing"

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{"0", 0, false}, {"512", 512, false}, {"1k", 1024, false}, {"64MiB", 64 << 20, false},
		{"1.5GB", 1500000000, false}, {"2g", 2 << 30, false}, {"xx", 0, true}, {"-1", 0, true},
	} {
		got, err := parseBytes(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d (error %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestSplitTag(t *testing.T) {
	for _, tc := range []struct{ in, repo, tag string }{
		{"busybox:latest", "busybox", "latest"},
		{"127.0.0.1:5000/busybox:1", "127.0.0.1:5000/busybox", "1"},
		{"127.0.0.1:5000/busybox", "127.0.0.1:5000/busybox", "<none>"},
		{"r/x@sha256:abc", "r/x", "<none>"},
	} {
		if repo, tag := splitTag(tc.in); repo != tc.repo || tag != tc.tag {
			t.Errorf("splitTag(%q) = %q %q, want %q %q", tc.in, repo, tag, tc.repo, tc.tag)
		}
	}
}
