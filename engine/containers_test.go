package engine

import (
	"bytes"
	"testing"
)

func TestDetachKeys(t *testing.T) {
	cases := map[string][]byte{
		"":              {0x10, 0x11},
		"ctrl-p,ctrl-q": {0x10, 0x11},
		"ctrl-a":        {0x01},
		"a,ctrl-x":      {'a', 0x18},
		"ctrl-@,ctrl-[": {0x00, 0x1b},
	}
	for spec, want := range cases {
		if got := detachKeys(spec); !bytes.Equal(got, want) {
			t.Errorf("detachKeys(%q) = %v, want %v", spec, got, want)
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
