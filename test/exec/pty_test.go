package exec

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/glassbox/glassbox/engine/runtime/nsenter"
	"github.com/glassbox/glassbox/test/fixture"
)

// screen collects what a terminal prints, for tests to wait on.
type screen struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{}
}

func readScreen(r io.Reader) *screen {
	s := &screen{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		b := make([]byte, 4096)
		for {
			n, err := r.Read(b)
			s.mu.Lock()
			s.buf.Write(b[:n])
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return s
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// waitFor waits until the output matches re, doing poke (when set) between looks. The
// deadline only keeps a broken build from hanging the run; it measures nothing.
func (s *screen) waitFor(t *testing.T, re *regexp.Regexp, poke func()) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(s.String()); m != nil {
			return m
		}
		if poke != nil {
			poke()
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("terminal never showed %s; it shows:\n%s", re, s.String())
	return nil
}

// TestNsenterPtyFollowsResize drives `glassbox nsenter --pty` from a terminal of its own: the
// shell inside gets a /dev/pts terminal of its own (not glassbox's), sized like glassbox's,
// and a resize of glassbox's terminal reaches it.
func TestNsenterPtyFollowsResize(t *testing.T) {
	fixture.NeedRoot(t)
	tg, _ := plainTarget(t)
	cmd := exec.Command(fixture.Glassbox(t), "nsenter", "-t", strconv.Itoa(tg.pid), "-a", "--pty", "sh")
	outer, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Fatal(err)
	}
	defer outer.Close()
	outerName, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(outer.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	scr := readScreen(outer)
	io.WriteString(outer, "echo tty=$(tty); echo size=$(stty size)\n")
	m := scr.waitFor(t, regexp.MustCompile(`tty=(/dev/pts/\d+)\r?\nsize=24 80`), nil)
	if m[1] == "" {
		t.Fatal("no tty")
	}
	// glassbox's own terminal is the slave of outer; the shell's must be a new one.
	if outerSlave := cmd.Stdin.(*os.File).Name(); m[1] == outerSlave {
		t.Errorf("the shell got glassbox's terminal %s (outer master %s), want a new one", m[1], outerName)
	}
	if err := pty.Setsize(outer, &pty.Winsize{Rows: 40, Cols: 100}); err != nil {
		t.Fatal(err)
	}
	scr.waitFor(t, regexp.MustCompile(`size=40 100`), func() { io.WriteString(outer, "echo size=$(stty size)\n") })
	io.WriteString(outer, "exit 7\n")
	err = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 7 {
		t.Errorf("exit %d (%v), want the shell's 7; terminal:\n%s", code, err, scr.String())
	}
}

// TestStartTtyConsole uses the API the exec verbs use: the caller holds the master.
func TestStartTtyConsole(t *testing.T) {
	fixture.NeedRoot(t)
	tg, _ := plainTarget(t)
	target, err := nsenter.OpenTarget(tg.pid, nsenter.TargetOptions{Root: true, Cgroups: true})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	r, err := target.Start(nsenter.Process{
		Args:        []string{"sh", "-c", `tty; stty size; read line; stty size; echo "got $line"; exit 4`},
		Env:         []string{"PATH=/usr/bin:/bin"},
		Tty:         true,
		ConsoleSize: nsenter.Size{Rows: 30, Cols: 90},
		Binary:      fixture.Glassbox(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Console == nil {
		t.Fatal("no console")
	}
	defer r.Console.Close()
	scr := readScreen(r.Console)
	scr.waitFor(t, regexp.MustCompile(`/dev/pts/\d+\r\n30 90\r\n`), nil)
	if err := r.Resize(nsenter.Size{Rows: 50, Cols: 132}); err != nil {
		t.Fatal(err)
	}
	io.WriteString(r.Console, "hello\n")
	code, err := r.Wait()
	if err != nil || code != 4 {
		t.Errorf("Wait = %d, %v; want 4", code, err)
	}
	<-scr.done // the console reads EIO once the shell is gone
	if out := scr.String(); !strings.Contains(out, "50 132\r\ngot hello") {
		t.Errorf("console after resize:\n%q", out)
	}
}
