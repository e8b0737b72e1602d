package shim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFrameRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	frames := []struct {
		typ byte
		p   []byte
	}{{FrameHello, []byte("stdin")}, {FrameStdout, []byte("hello\n")}, {FrameResize, ResizePayload(24, 80)}, {FrameStdinEOF, nil}}
	for _, f := range frames {
		if err := WriteFrame(&buf, f.typ, f.p); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range frames {
		typ, p, err := ReadFrame(&buf)
		if err != nil || typ != f.typ || !bytes.Equal(p, f.p) && len(f.p) > 0 {
			t.Fatalf("got %d %q %v, want %d %q", typ, p, err, f.typ, f.p)
		}
	}
	rows, cols, err := parseResize(ResizePayload(24, 80))
	if rows != 24 || cols != 80 || err != nil {
		t.Fatalf("resize %d %d %v", rows, cols, err)
	}
	// A frame claiming more than the limit is refused, not allocated.
	if _, _, err := ReadFrame(bytes.NewReader([]byte{FrameStdin, 0xff, 0xff, 0xff, 0xff})); err == nil {
		t.Fatal("oversized frame accepted")
	}
}

func readLog(t *testing.T, path string) []LogEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []LogEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var le LogEntry
		if err := json.Unmarshal(sc.Bytes(), &le); err != nil {
			t.Fatalf("bad log line %q: %v", sc.Text(), err)
		}
		out = append(out, le)
	}
	return out
}

func TestLogLinesAndStreams(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log.json")
	l, err := openLog(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	l.write("stdout", []byte("one\ntw"))
	l.write("stderr", []byte("err\n"))
	l.write("stdout", []byte("o\nthree"))
	l.close() // flushes the partial "three"
	got := readLog(t, p)
	want := []struct{ stream, line string }{{"stdout", "one\n"}, {"stderr", "err\n"}, {"stdout", "two\n"}, {"stdout", "three"}}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i, w := range want {
		if got[i].Stream != w.stream || got[i].Line != w.line || got[i].Time.IsZero() {
			t.Errorf("entry %d = %+v, want %+v", i, got[i], w)
		}
	}
}

func TestLogRotates(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log.json")
	l, err := openLog(p, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		l.write("stdout", []byte(strings.Repeat("x", 20)+"\n"))
	}
	l.close()
	cur, old := readLog(t, p), readLog(t, p+".1")
	if len(old) == 0 || len(cur) == 0 {
		t.Fatalf("no rotation: %d current, %d old", len(cur), len(old))
	}
	for _, f := range []string{p, p + ".1"} {
		if st, _ := os.Stat(f); st.Size() > 1000 {
			t.Errorf("%s is %d bytes, over the cap", f, st.Size())
		}
	}
}

func TestRuncErrorKinds(t *testing.T) {
	cases := []struct {
		stderr string
		kind   error
	}{
		{`runc create failed: unable to start container process: exec: "nosuch": executable file not found in $PATH`, ErrCommandNotFound},
		{`runc create failed: unable to start container process: exec: "/etc/passwd": permission denied`, ErrCannotExecute},
		{`runc create failed: unable to apply cgroup configuration`, nil},
	}
	for _, c := range cases {
		err := runcError("runc create", os.ErrInvalid, "/nonexistent", c.stderr)
		if strings.Contains(err.Error(), "runc create: runc create failed") {
			t.Errorf("doubled prefix: %v", err)
		}
		for _, k := range []error{ErrCommandNotFound, ErrCannotExecute} {
			if got := errorsIs(err, k); got != (k == c.kind) {
				t.Errorf("%q: errors.Is(%v) = %v", c.stderr, k, got)
			}
		}
	}
}

// A slow attacher misses output rather than stalling the container (the log keeps it), but
// still hears the exit: the run that attached it exits with the container's code.
func TestHubSlowAttacherMissesOutputButHearsExit(t *testing.T) {
	for _, frames := range []int{subscriberFrames - 1, subscriberFrames, 2000} {
		h := newHub()
		slow, _ := h.add()
		for i := 0; i < frames; i++ { // nobody reads slow: it must not block
			h.broadcast(FrameStdout, []byte("x"))
		}
		finished := make(chan struct{})
		go func() {
			h.finish([]byte(`{"code":3}`))
			close(finished)
		}()
		select {
		case <-finished:
		case <-time.After(10 * time.Second):
			t.Fatalf("%d frames: finish blocks on an attacher that reads nothing", frames)
		}
		var got []frame
		for f := range slow.ch {
			got = append(got, f)
		}
		if len(got) < 2 || len(got) > subscriberFrames {
			t.Fatalf("%d frames: slow attacher got %d frames", frames, len(got))
		}
		if last := got[len(got)-1]; last.typ != FrameExit || string(last.payload) != `{"code":3}` {
			t.Fatalf("%d frames: slow attacher's last frame %+v, not the exit", frames, last)
		}
	}
	h := newHub()
	h.finish([]byte(`{"code":3}`))
	late, live := h.add()
	f := <-late.ch
	if live || f.typ != FrameExit || string(f.payload) != `{"code":3}` {
		t.Fatalf("late attacher: live %v frame %+v", live, f)
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// runc has no reaper: a bundle asking for glassbox's (--init) is refused before runc runs,
// and its config.json is left as it was.
func TestRuncRefusesInit(t *testing.T) {
	dir := t.TempDir()
	cfg := []byte(`{"annotations":{"org.glassbox.init":"reaper"},"linux":{"cgroupsPath":"abc"}}`)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	r := &runc{binary: "/nonexistent/runc", root: t.TempDir()}
	_, err := r.Create(t.Context(), "x", dir, IO{}, false)
	if err == nil || !strings.Contains(err.Error(), "--init") || !strings.Contains(err.Error(), "runc has none") {
		t.Fatalf("runc create of an --init bundle: %v, want a refusal naming --init", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "config.json")); !bytes.Equal(after, cfg) {
		t.Errorf("config.json rewritten: %s", after)
	}
}
