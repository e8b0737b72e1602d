package exec

import (
	"io"
	"os"
	"regexp"
	"testing"

	"github.com/creack/pty"
)

// TestExecTtyFollowsResize drives `glassbox exec -it` from a terminal of its own: the shell
// gets a terminal of the container's devpts (not glassbox's), sized like glassbox's, a resize
// of glassbox's terminal reaches it, and its exit status comes back.
func TestExecTtyFollowsResize(t *testing.T) {
	c := runContainer(t)
	cmd := c.Command(c.execArgs("-it", "--", "sh")...)
	outer, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Fatal(err)
	}
	defer outer.Close()
	scr := readScreen(outer)
	io.WriteString(outer, "echo tty=$(tty); echo size=$(stty size); echo dev=$(stat -c %d /dev/pts)\n")
	m := scr.waitFor(t, regexp.MustCompile(`tty=(/dev/pts/\d+)\r?\nsize=24 80\r?\ndev=(\d+)`), nil)
	// The container's /dev/pts is its own devpts mount, not the host's.
	var hostPts, ctrPts string
	if st, err := os.Stat("/dev/pts"); err == nil {
		hostPts = statDev(st)
	}
	ctrPts = m[2]
	if hostPts == ctrPts {
		t.Errorf("the shell's /dev/pts is the host's (device %s)", hostPts)
	}
	if err := pty.Setsize(outer, &pty.Winsize{Rows: 40, Cols: 100}); err != nil {
		t.Fatal(err)
	}
	scr.waitFor(t, regexp.MustCompile(`size=40 100`), func() { io.WriteString(outer, "echo size=$(stty size)\n") })
	io.WriteString(outer, "exit 7\n")
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 7 {
		t.Errorf("exit %d, want the shell's 7; terminal:\n%s", code, scr.String())
	}
}

// TestExecTtyWithoutTerminal: -t from a caller that is no terminal (a pipe) still gives the
// command a terminal, and its output comes back.
func TestExecTtyWithoutTerminal(t *testing.T) {
	c := runContainer(t)
	r := c.exec("-t", "--", "tty")
	if r.Code != 0 || !regexp.MustCompile(`^/dev/pts/\d+\r?\n$`).MatchString(r.Stdout) {
		t.Errorf("exec -t tty: exit %d, %q, %s", r.Code, r.Stdout, r.Stderr)
	}
	if r := c.exec("tty"); r.Code == 0 {
		t.Errorf("exec tty without -t: exit 0, %q: stdin should be no terminal", r.Stdout)
	}
}
