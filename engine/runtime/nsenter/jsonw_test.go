package nsenter_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"strings"
	"testing"
	"time"
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

// TestCCivilTimeMatchesGo (testdata/cshim/civil.c): the C run's dates, made without the C
// library's time zone code (json_civil_time, and jbuf_time_at's RFC3339Nano on it), are Go's
// UTC time.Format for the epoch, leap days, centuries and a spread of times up to 2400.
func TestCCivilTimeMatchesGo(t *testing.T) {
	bin := buildC(t, "civil", "jsonw.c")
	at := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixNano()
	}
	times := []int64{0, 1, 999999999, at("2000-02-29T23:59:59.5Z"), at("2000-03-01T00:00:00Z"),
		at("1900-03-01T00:00:00Z"), at("2100-02-28T12:00:00.000000001Z"), at("2024-12-31T23:59:59.999999999Z"),
		at("2262-04-11T23:47:16.854775807Z")}
	for ns, step := int64(0), int64(7*(86400*1e9+123456789)); ns < math.MaxInt64-step; ns += step {
		times = append(times, ns)
	}
	var in strings.Builder
	for _, ns := range times {
		fmt.Fprintln(&in, ns)
	}
	cmd := exec.Command(bin)
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(times) {
		t.Fatalf("%d lines for %d times", len(lines), len(times))
	}
	for i, ns := range times {
		tm := time.Unix(0, ns).UTC()
		want := tm.Format("2006-01-02T15:04:05") + "\t" + tm.Format(time.RFC3339Nano)
		if lines[i] != want {
			t.Errorf("%d: C writes %q, Go %q", ns, lines[i], want)
		}
	}
}
