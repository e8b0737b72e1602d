package nsenter_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/shim"
	"github.com/glassbox/glassbox/test/fixture"
)

// buildC compiles testdata/cshim/MAIN.c with the package's C files named, with its cgo flags.
func buildC(t *testing.T, main string, files ...string) string {
	t.Helper()
	gcc := fixture.NeedBinary(t, "gcc")
	here, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), main)
	args := []string{"-Wall", "-Wextra", "-Wno-unused-parameter", "-O2", "-Werror", "-I", here, "-o", bin,
		filepath.Join(here, "testdata", "cshim", main+".c")}
	for _, f := range files {
		args = append(args, filepath.Join(here, f))
	}
	if out, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return bin
}

// cshimBuild builds testdata/cshim/harness.c, the C shim's caller in these tests.
func cshimBuild(t *testing.T) string {
	return buildC(t, "harness", "cshim.c", "cshim_log.c", "jsonw.c")
}

type harness struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  *bufio.Reader
	stderr bytes.Buffer
	dir    string
}

func startHarness(t *testing.T, bin, dir string, logMax, queueMax int, first *os.File, script string) *harness {
	h := &harness{dir: dir}
	withFirst := "0"
	h.cmd = exec.Command(bin, dir, strconv.Itoa(logMax), strconv.Itoa(queueMax), withFirst, script)
	if first != nil {
		h.cmd.Args[4] = "1"
		h.cmd.ExtraFiles = []*os.File{first}
	}
	h.cmd.Stderr = &h.stderr
	var err error
	if h.stdin, err = h.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := h.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	h.lines = bufio.NewReader(out)
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.cmd.Process.Kill()
		h.cmd.Wait()
	})
	if first != nil {
		first.Close()
	}
	h.expect(t, "listening")
	return h
}

// expect reads the harness's next line, which must begin with prefix, and returns the rest.
func (h *harness) expect(t *testing.T, prefix string) string {
	t.Helper()
	line, err := h.lines.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, prefix) {
		t.Fatalf("harness said %q (%v), want %q; stderr: %s", line, err, prefix, h.stderr.String())
	}
	return strings.TrimSpace(strings.TrimPrefix(line, prefix))
}

func (h *harness) send(t *testing.T, line string) {
	if _, err := io.WriteString(h.stdin, line+"\n"); err != nil {
		t.Fatal(err)
	}
}

// served reads the code the serve returned and the exit payload (cshim_exit_json's, with
// oomKilled set for 137 to see both forms), which must be what encoding/json makes of it.
func (h *harness) served(t *testing.T) (int, string) {
	t.Helper()
	code, exit, _ := strings.Cut(h.expect(t, "served "), " ")
	n, err := strconv.Atoi(code)
	if err != nil {
		t.Fatal(err)
	}
	var st shim.ExitStatus
	if err := json.Unmarshal([]byte(exit), &st); err != nil {
		t.Fatalf("exit payload %q: %v", exit, err)
	}
	want, _ := json.Marshal(shim.ExitStatus{Code: n, OOMKilled: n == 137, FinishedAt: st.FinishedAt})
	if exit != string(want) || time.Since(st.FinishedAt) > time.Hour || st.FinishedAt.Location() != time.UTC {
		t.Errorf("exit payload %s, encoding/json writes %s (finished now, in UTC)", exit, want)
	}
	return n, exit
}

func (h *harness) wait(t *testing.T) {
	h.expect(t, "finished")
	if err := h.cmd.Wait(); err != nil {
		t.Fatalf("harness: %v; stderr: %s", err, h.stderr.String())
	}
}

type frame struct {
	typ     byte
	payload []byte
}

// attacher collects every frame an attach connection reads, until EOF.
type attacher struct {
	mu     sync.Mutex
	frames []frame
	err    error
	done   chan struct{}
}

func attach(c net.Conn) *attacher {
	a := &attacher{done: make(chan struct{})}
	go func() {
		defer close(a.done)
		defer c.Close()
		for {
			typ, p, err := shim.ReadFrame(c)
			a.mu.Lock()
			if err != nil {
				if err != io.EOF {
					a.err = err
				}
				a.mu.Unlock()
				return
			}
			a.frames = append(a.frames, frame{typ, p})
			a.mu.Unlock()
		}
	}()
	return a
}

func dial(t *testing.T, socket string) net.Conn {
	t.Helper()
	c, err := shim.Dial(socket, false)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// rawDial connects without a hello, through the directory for a path sun_path cannot hold.
func rawDial(socket string) (net.Conn, error) {
	d, err := os.Open(filepath.Dir(socket))
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return net.Dial("unix", fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), filepath.Base(socket)))
}

func (a *attacher) stream(typ byte) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var b strings.Builder
	for _, f := range a.frames {
		if f.typ == typ {
			b.Write(f.payload)
		}
	}
	return b.String()
}

// waitFor waits until the attacher's stdout holds s.
func (a *attacher) waitFor(t *testing.T, s string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !strings.Contains(a.stream(shim.FrameStdout), s); {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the attacher's output: %q", s, a.stream(shim.FrameStdout))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ended checks that the attacher read well-formed frames to EOF, the exit last and once.
func (a *attacher) ended(t *testing.T, name, exit string) {
	t.Helper()
	select {
	case <-a.done:
	case <-time.After(time.Minute):
		t.Fatalf("%s: no EOF after the exit", name)
	}
	if a.err != nil {
		t.Errorf("%s: %v", name, a.err)
	}
	for i, f := range a.frames {
		last := i == len(a.frames)-1
		if (f.typ == shim.FrameExit) != last || last && string(f.payload) != exit {
			t.Errorf("%s: frame %d of %d is type %d %.80q; want output frames, then the exit %s", name, i,
				len(a.frames), f.typ, f.payload, exit)
		}
	}
	if len(a.frames) == 0 {
		t.Errorf("%s: no frames, not even the exit", name)
	}
}

type logLine struct{ stream, line string }

// goLog is what engine/shim's logWriter writes for the chunks the first attacher was sent
// (one frame per read, in the order read): its split, repeated here since it is not exported.
func goLog(frames []frame) []logLine {
	var out []logLine
	partial := map[string]string{}
	for _, f := range frames {
		stream := map[byte]string{shim.FrameStdout: "stdout", shim.FrameStderr: "stderr"}[f.typ]
		if stream == "" {
			continue
		}
		buf := partial[stream] + string(f.payload)
		for {
			i := strings.IndexByte(buf, '\n')
			if i < 0 {
				break
			}
			out = append(out, logLine{stream, buf[:i+1]})
			buf = buf[i+1:]
		}
		if len(buf) > 16<<10 {
			out = append(out, logLine{stream, buf})
			buf = ""
		}
		partial[stream] = buf
	}
	for _, stream := range []string{"stdout", "stderr"} {
		if partial[stream] != "" {
			out = append(out, logLine{stream, partial[stream]})
		}
	}
	return out
}

type logRecord struct {
	raw []byte
	e   shim.LogEntry
}

// readLog decodes a log file's json lines.
func readLog(t *testing.T, path string) []logRecord {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []logRecord
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var e shim.LogEntry
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("%s: line %q: %v", path, line, err)
		}
		if d := time.Since(e.Time); d < -time.Hour || d > time.Hour || e.Time.Location() != time.UTC {
			t.Errorf("%s: time %v is not now in UTC", path, e.Time)
		}
		out = append(out, logRecord{line, e})
	}
	return out
}

// checkLog compares the log's lines with what encoding/json writes for want's entries at
// the times logged, byte for byte: the escaping of the lines and the form of the time.
func checkLog(t *testing.T, got []logRecord, want []logLine) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d log entries, Go's logWriter writes %d", len(got), len(want))
	}
	for i := 0; i < len(got) && i < len(want); i++ {
		line, _ := json.Marshal(shim.LogEntry{Stream: want[i].stream, Time: got[i].e.Time, Line: want[i].line})
		if line = append(line, '\n'); !bytes.Equal(got[i].raw, line) {
			t.Errorf("log line %d\n%.300q\nencoding/json writes\n%.300q", i, got[i].raw, line)
		}
	}
}

// TestCShim runs the C shim on a script whose output covers the log's cases (lines, a
// partial line, one of 64 KiB (cut at 16 KiB), bytes that are not UTF-8, HTML and control
// characters, U+2028) with attachers as engine/shim's clients: the first connection, two
// that attach before the start, one that attaches midway. Each must get all the output it
// was there for, in order, and the exit; the log must be what Go's logWriter writes.
func TestCShim(t *testing.T) {
	bin := cshimBuild(t)
	dir := t.TempDir()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "first"), os.NewFile(uintptr(fds[1]), "first-shim")
	firstConn, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		t.Fatal(err)
	}
	script := `printf 'one\ntwo\n'; printf 'err1\n' >&2; printf 'partial'; printf ' end\n'
printf '<b>&amp;</b>\n'; printf 'bad\377\300 \355\240\200 sep\342\200\250\342\200\251 ok\303\251\n'
printf 'ctl\001\t\r\b\f\033 del\177\n' >&2
head -c 65536 /dev/zero | tr '\0' x; printf '\n'
(sh -c 'exit 9' &)
echo part1-done
read go
while [ ! -e ` + dir + `/stop ]; do echo tick; sleep 0.01; done
printf 'after\n'; printf 'err-tail' >&2; printf 'tail-without-newline'
exit 3`
	h := startHarness(t, bin, dir, 0, 0, theirs, script)
	socket := filepath.Join(dir, "attach.sock")
	if fi, err := os.Stat(socket); err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("attach socket: %v %v, want a socket of mode 0600", fi, err)
	}
	first := attach(firstConn)
	a, b := attach(dial(t, socket)), attach(dial(t, socket))
	stdinHello, err := shim.Dial(socket, true) // "stdin": accepted, its input ignored
	if err != nil {
		t.Fatal(err)
	}
	go func() { // input as the Go CLI sends it, up to a frame of the largest size, skipped
		shim.WriteFrame(stdinHello, shim.FrameStdin, []byte("ignored\n"))
		shim.WriteFrame(stdinHello, shim.FrameStdin, bytes.Repeat([]byte{shim.FrameExit}, 1<<20))
		shim.WriteFrame(stdinHello, shim.FrameResize, shim.ResizePayload(24, 80))
		shim.WriteFrame(stdinHello, shim.FrameStdinEOF, nil)
	}()
	c := attach(stdinHello)
	h.send(t, "go")
	a.waitFor(t, "part1-done\n")
	late := attach(dial(t, socket))
	h.send(t, "")
	late.waitFor(t, "tick\n")
	if err := os.WriteFile(filepath.Join(dir, "stop"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, exit := h.served(t)
	h.wait(t)
	if code != 3 {
		t.Errorf("serve returned %d, want the script's exit 3 (not its orphan's 9)", code)
	}
	for name, at := range map[string]*attacher{"first": first, "a": a, "b": b, "stdin": c, "late": late} {
		at.ended(t, name, exit)
	}

	out, errOut := first.stream(shim.FrameStdout), first.stream(shim.FrameStderr)
	prefix := "one\ntwo\npartial end\n<b>&amp;</b>\nbad\xff\xc0 \xed\xa0\x80 sep\u2028\u2029 ok\u00e9\n" +
		strings.Repeat("x", 65536) + "\npart1-done\n"
	const suffix = "after\ntail-without-newline"
	ticks, ok := strings.CutPrefix(out, prefix)
	if ticks, ok2 := strings.CutSuffix(ticks, suffix); !ok || !ok2 || ticks == "" || strings.ReplaceAll(ticks, "tick\n", "") != "" {
		t.Errorf("first attacher's stdout :\n%.400q", out)
	}
	if want := "err1\nctl\x01\t\r\b\f\x1b del\x7f\nerr-tail"; errOut != want {
		t.Errorf("first attacher's stderr %q, want %q", errOut, want)
	}
	for name, at := range map[string]*attacher{"a": a, "b": b, "stdin": c} {
		if o, e := at.stream(shim.FrameStdout), at.stream(shim.FrameStderr); o != out || e != errOut {
			t.Errorf("attacher %s missed output: stdout %d bytes of %d, stderr %d of %d", name, len(o), len(out), len(e), len(errOut))
		}
	}
	if o := late.stream(shim.FrameStdout); !strings.HasSuffix(out, o) || !strings.HasSuffix(o, "tick\nafter\ntail-without-newline") {
		t.Errorf("late attacher's stdout %.200q is not the end of the output", o)
	}

	got, want := readLog(t, filepath.Join(dir, "log.json")), goLog(first.frames)
	checkLog(t, got, want)
	cut := false
	for _, r := range got {
		cut = cut || len(r.e.Line) > 16<<10 && strings.Trim(r.e.Line, "x") == ""
	}
	if !cut {
		t.Errorf("no entry cut from the 64 KiB line (reads are at most 32 KiB)")
	}
	if _, err := os.Stat(socket); !os.IsNotExist(err) {
		t.Errorf("attach socket left after finish: %v", err)
	}
}

// TestCShimSlowAttacher: an attacher that reads nothing misses output but not the exit, and
// neither the container nor the log nor the other attachers wait for it. Also: the init
// killed by a signal (128+9), an output held open by an orphan after the init's exit (the
// 2 s bound), a socket path too long for sun_path, log rotation, attachers that hang up
// midway or break the protocol, and one that comes after the end.
func TestCShimSlowAttacher(t *testing.T) {
	bin := cshimBuild(t)
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 100))
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(dir, "attach.sock")
	const lines = 300000
	h := startHarness(t, bin, dir, 1<<20, 0, nil, fmt.Sprintf("sleep 60 & seq 1 %d; kill -KILL $$", lines))
	slow, err := shim.Dial(socket, false)
	if err != nil {
		t.Fatal(err)
	}
	reader := attach(dial(t, socket))
	quitter := dial(t, socket)
	silent, err := rawDial(socket) // no hello: holds the drain its second, as in Go
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	h.send(t, "go")
	for _, bad := range [][]byte{{shim.FrameStdin, 0, 0, 0, 1, 'x'}, {shim.FrameHello, 0xff, 0xff, 0xff, 0xff}} {
		c, err := rawDial(socket)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(bad)
		if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Errorf("a connection that sent %x was not hung up on: %d, %v", bad, n, err)
		}
		c.Close()
	}
	if _, _, err := shim.ReadFrame(quitter); err != nil {
		t.Fatal(err)
	}
	quitter.Close() // the shim must not die of SIGPIPE (the harness does not ignore it)
	code, exit := h.served(t)
	after, afterErr := shim.Dial(socket, false)
	s := attach(slow)
	s.ended(t, "slow", exit)
	reader.ended(t, "reader", exit)
	if afterErr != nil {
		t.Logf("no attach after the end (the drain was over): %v", afterErr)
	} else {
		late := attach(after)
		late.ended(t, "after the end", exit)
		if len(late.frames) != 1 {
			t.Errorf("an attacher after the end got %d frames, want the exit alone", len(late.frames))
		}
	}
	h.wait(t)
	if code != 128+9 {
		t.Errorf("serve returned %d, want 137 (SIGKILL)", code)
	}

	var all strings.Builder
	for i := 1; i <= lines; i++ {
		fmt.Fprintf(&all, "%d\n", i)
	}
	output := all.String()
	for name, at := range map[string]*attacher{"slow": s, "reader": reader} {
		rest := output
		for _, f := range at.frames[:len(at.frames)-1] {
			i := strings.Index(rest, string(f.payload))
			if f.typ != shim.FrameStdout || i < 0 {
				t.Fatalf("%s: frame %.40q is not a later part of the output", name, f.payload)
			}
			rest = rest[i+len(f.payload):]
		}
	}
	if got := len(s.stream(shim.FrameStdout)); got >= len(output) {
		t.Errorf("the slow attacher got all %d bytes: nothing was dropped for it", got)
	}

	var logged strings.Builder
	for _, f := range []string{"log.json.1", "log.json"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() > 1<<20 {
			t.Fatalf("%s: %v, over the 1 MiB cap or missing", f, err)
		}
		recs := readLog(t, filepath.Join(dir, f))
		var want []logLine
		for _, r := range recs {
			want = append(want, logLine{"stdout", r.e.Line})
			logged.WriteString(r.e.Line)
		}
		checkLog(t, recs, want)
	}
	l := logged.String()
	if cut := len(output) - len(l); !strings.HasSuffix(output, l) || cut > 0 && output[cut-1] != '\n' || l == "" {
		t.Errorf("the logs (%d bytes) are not the output's last lines", len(l))
	}
}

// TestCShimFinishWithoutServe: a start that failed after cshim_listen goes straight to
// cshim_finish; the first attacher hears the exit, and the socket is removed.
func TestCShimFinishWithoutServe(t *testing.T) {
	bin := cshimBuild(t)
	dir := t.TempDir()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours := os.NewFile(uintptr(fds[0]), "first")
	firstConn, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		t.Fatal(err)
	}
	h := startHarness(t, bin, dir, 0, 0, os.NewFile(uintptr(fds[1]), "first-shim"), "")
	first := attach(firstConn)
	h.send(t, "go")
	h.wait(t)
	first.ended(t, "first", `{"code":125}`)
	if len(first.frames) != 1 {
		t.Errorf("first attacher got %d frames, want the exit alone", len(first.frames))
	}
	if _, err := os.Stat(filepath.Join(dir, "attach.sock")); !os.IsNotExist(err) {
		t.Errorf("attach socket left after finish: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "log.json")); err != nil || fi.Size() != 0 {
		t.Errorf("log.json: %v, %v; want an empty log, as Go's openLog leaves", fi, err)
	}
}

// TestMapRecord (testdata/cshim/maprecord.c): glassbox_map_record maps what
// glassbox_read_record reads, with a NUL after the last byte also when the file ends at a
// page's end, and refuses what it refuses: too short, readable by others, a symbolic link.
func TestMapRecord(t *testing.T) {
	bin := buildC(t, "maprecord", "readfile.c")
	dir := t.TempDir()
	var args []string
	for _, size := range []int{8, 100, 4095, 4096, 4097, 8192} {
		p := filepath.Join(dir, fmt.Sprint(size))
		b := bytes.Repeat([]byte{'x'}, size)
		b[size-1] = 'y'
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	short, shared, link := filepath.Join(dir, "short"), filepath.Join(dir, "shared"), filepath.Join(dir, "link")
	os.WriteFile(short, []byte("abc"), 0o600)
	os.WriteFile(shared, []byte("0123456789"), 0o644)
	os.Chmod(shared, 0o644)
	os.Symlink(args[1], link)
	out, err := exec.Command(bin, append(args, short, shared, link)...).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "8 nul=1 same=1\n100 nul=1 same=1\n4095 nul=1 same=1\n4096 nul=1 same=1\n4097 nul=1 same=1\n8192 nul=1 same=1\nrefused\nrefused\nrefused\n"
	if string(out) != want {
		t.Errorf("maprecord says\n%swant\n%s", out, want)
	}
}
