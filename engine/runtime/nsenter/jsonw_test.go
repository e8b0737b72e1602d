package nsenter_test

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestCShimJSONMatchesMarshal (testdata/cshim/json.c): the log's string escaping is
// encoding/json's, byte for byte, for every byte, the UTF-8 edge cases and random bytes.
func TestCShimJSONMatchesMarshal(t *testing.T) {
	bin := buildC(t, "json", "jsonw.c")
	inputs := []string{"", "plain", "\"\\/", "<>&", "\u2028\u2029", "\ufffd", "\xef\xbf\xbd\xef\xbf",
		"\xc0\x80", "\xc2\x80\xdf\xbf", "\xe0\x9f\xbf\xe0\xa0\x80", "\xed\x9f\xbf\xed\xa0\x80", "\xef\xbf\xbf",
		"\xf0\x8f\xbf\xbf\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xe2\x80", "\xe2\x80\xa8x"}
	for b := 0; b < 256; b++ {
		inputs = append(inputs, string([]byte{byte(b)}), "a"+string([]byte{byte(b)})+"\xa8z")
	}
	rnd := uint64(1)
	for i := 0; i < 2000; i++ {
		p := make([]byte, i%64)
		for j := range p {
			rnd = rnd*6364136223846793005 + 1442695040888963407
			p[j] = byte(rnd >> 56)
			if i%2 == 0 { // mostly ASCII and UTF-8 lead/continuation bytes
				p[j] = []byte{'a', '\n', '<', 0xe2, 0x80, 0xa8, 0xc3, 0xa9, 0xf0, 0x9f, 0xff}[p[j]%11]
			}
		}
		inputs = append(inputs, string(p))
	}
	var in bytes.Buffer
	for _, s := range inputs {
		in.Write([]byte{byte(len(s)), byte(len(s) >> 8), byte(len(s) >> 16), byte(len(s) >> 24)})
		in.WriteString(s)
	}
	cmd := exec.Command(bin)
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(out), "\n")
	if len(lines) != len(inputs)+1 {
		t.Fatalf("%d lines for %d inputs", len(lines)-1, len(inputs))
	}
	for i, s := range inputs {
		want, _ := json.Marshal(s)
		if lines[i] != string(want) {
			t.Errorf("%q: C writes %s, encoding/json %s", s, lines[i], want)
		}
	}
}
