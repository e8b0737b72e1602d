package engine

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/glassbox/glassbox/engine/runtime"
	"github.com/glassbox/glassbox/engine/spec"
)

// --init is an annotation engine/spec writes and engine/runtime reads, each naming it.
func TestInitAnnotationAgrees(t *testing.T) {
	if spec.InitAnnotation != runtime.InitAnnotation || runtime.InitReaper != "reaper" {
		t.Fatalf("spec writes %s=reaper, the runtime reads %s=%s", spec.InitAnnotation, runtime.InitAnnotation, runtime.InitReaper)
	}
}

func TestDetachKeys(t *testing.T) {
	cases := map[string][]byte{
		"":              {0x10, 0x11},
		"ctrl-p,ctrl-q": {0x10, 0x11},
		"ctrl-a":        {0x01},
		"a,ctrl-x":      {'a', 0x18},
		"ctrl-@,ctrl-[": {0x00, 0x1b},
	}
	for spec, want := range cases {
		if got, err := ParseDetachKeys(spec); err != nil || !bytes.Equal(got, want) {
			t.Errorf("ParseDetachKeys(%q) = %v, %v; want %v", spec, got, err, want)
		}
	}
	// docker's message for keys it cannot read, instead of a sequence that never matches.
	for _, spec := range []string{"ctrl-1", "ctrl-p,ab", "ctrl-", ","} {
		if got, err := ParseDetachKeys(spec); err == nil || !strings.Contains(err.Error(), "invalid detach keys") {
			t.Errorf("ParseDetachKeys(%q) = %v, %v; want an error", spec, got, err)
		}
	}
}

// The scanner holds the keys back while they match, passes them on when the match breaks
// (as docker does), and matches across reads.
func TestDetachScanner(t *testing.T) {
	type step struct {
		in       string
		out      string
		detached bool
	}
	for name, steps := range map[string][]step{
		"plain":          {{"ls\r", "ls\r", false}},
		"across reads":   {{"a\x10", "a", false}, {"\x11rest", "", true}},
		"broken match":   {{"\x10x", "\x10x", false}},
		"broken by a ^P": {{"\x10\x10\x11", "\x10\x10\x11", false}},
		"in one read":    {{"ab\x10\x11cd", "ab", true}},
	} {
		d := detachScanner{keys: []byte{0x10, 0x11}}
		for i, s := range steps {
			in, _ := strconv.Unquote(`"` + s.in + `"`)
			want, _ := strconv.Unquote(`"` + s.out + `"`)
			out, detached := d.scan([]byte(in))
			if string(out) != want || detached != s.detached {
				t.Errorf("%s, read %d: scan(%q) = %q, %v; want %q, %v", name, i, in, out, detached, want, s.detached)
			}
		}
	}
}

func TestLineReaderKeepsPartialLines(t *testing.T) {
	var buf bytes.Buffer
	r := &lineReader{r: &buf}
	buf.WriteString(`{"log":"a"}` + "\n" + `{"log":"b`)
	if got := r.lines(); len(got) != 1 || string(got[0]) != `{"log":"a"}` {
		t.Fatalf("first read: %q", got)
	}
	buf.WriteString(`"}` + "\n")
	if got := r.lines(); len(got) != 1 || string(got[0]) != `{"log":"b"}` {
		t.Fatalf("second read: %q", got)
	}
}
