package exec

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/glassbox/glassbox/engine"
)

// TestExecDetachKeys drives `glassbox exec -it` from a terminal and types ctrl-p ctrl-q:
// glassbox exits 0 at once and the shell goes on, with its terminal: told to go on after the
// detach, it writes far more than a terminal buffers (so it would block if nobody read the
// master, or die of SIGHUP had the master closed with glassbox), then leaves a file. A ctrl-p
// followed by another key is passed through as typed, and --detach-keys changes the sequence.
// The exec's end is in the events, and the keeper holding its terminal ends with it.
func TestExecDetachKeys(t *testing.T) {
	c := runContainer(t)
	ev := watchEvents(t, c)
	script := `read line; echo "got[$line]"; echo ready; while [ ! -e /tmp/go ]; do sleep 0.05; done; ` +
		`head -c 300000 /dev/zero | tr '\0' x; echo; echo went-on > /tmp/after-detach`
	cmd := c.Command(c.execArgs("-it", "--", "sh", "-c", script)...)
	outer, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Fatal(err)
	}
	defer outer.Close()
	scr := readScreen(outer)
	// ctrl-p then "a" is no detach: both reach the shell.
	io.WriteString(outer, "\x10a\r")
	scr.waitFor(t, regexp.MustCompile(`got\[\x10a\]`), nil)
	scr.waitFor(t, regexp.MustCompile(`ready`), nil)
	io.WriteString(outer, "\x10\x11")
	waitExit(t, cmd, scr)
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("detach: exit %d; terminal:\n%s", code, scr.String())
	}
	if execPidOf(t, c, "read line") == 0 {
		t.Fatalf("the exec'd shell did not outlive the detach; top:\n%s", c.Run("top", c.name).Stdout)
	}
	c.mustExec("touch", "/tmp/go")
	if got := c.mustExec("sh", "-c", "for i in $(seq 400); do [ -s /tmp/after-detach ] && break; sleep 0.05; done; cat /tmp/after-detach"); got != "went-on" {
		t.Fatalf("after the detach the shell did not go on (blocked on its terminal, or hung up): %q", got)
	}
	start := ev.find(t, func(e engine.Event) bool {
		return strings.HasPrefix(e.Action, "exec_start: sh -c read line") && e.Name == c.name
	})
	die := ev.find(t, func(e engine.Event) bool {
		return e.Action == "exec_die" && e.Attributes["execID"] == start.Attributes["execID"]
	})
	// The keeper is not the shell's parent: it gives the exit code when it reads it before
	// the shell's new parent reaps it, and then it must be the shell's.
	if code, ok := die.Attributes["exitCode"]; ok && code != "0" {
		t.Errorf("detached exec died with exitCode %s, want 0", code)
	}
	waitNoKeeper(t, start.Attributes["execID"])

	// --detach-keys: ctrl-x then "d".
	cmd = c.Command(c.execArgs("-it", "--detach-keys", "ctrl-x,d", "--", "sh", "-c", "echo ready; sleep 30")...)
	outer2, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer outer2.Close()
	scr2 := readScreen(outer2)
	scr2.waitFor(t, regexp.MustCompile(`ready`), nil)
	io.WriteString(outer2, "\x18d")
	waitExit(t, cmd, scr2)
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("detach with ctrl-x,d: exit %d", code)
	}
	if execPidOf(t, c, "sleep 30") == 0 {
		t.Error("the shell did not outlive --detach-keys")
	}
}

// waitExit waits for glassbox to exit after a detach; the deadline only keeps a broken build
// from hanging the run.
func waitExit(t *testing.T, cmd *exec.Cmd, scr *screen) {
	t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("glassbox did not exit on the detach keys; terminal:\n%s", scr.String())
	}
}

// TestExecEvents: every exec is in `glassbox events` as docker names it: exec_create and
// exec_start with the command, exec_die with the exit code, one exec ID across the three;
// a missing program dies 127, and an exec -d's end, with its exit code, is recorded after
// glassbox has exited (its keeper runs it and waits for it). -d's errors are the same as
// without: a missing program is 127, an unknown container 125.
func TestExecEvents(t *testing.T) {
	c := runContainer(t)
	ev := watchEvents(t, c)
	cases := []struct {
		args []string
		cmd  string
		code string
	}{
		{[]string{"true"}, "true", "0"},
		{[]string{"sh", "-c", "exit 3"}, "sh -c exit 3", "3"},
		{[]string{"no-such-program"}, "no-such-program", "127"},
		{[]string{"-d", "--", "sh", "-c", "sleep 0.3; exit 5"}, "sh -c sleep 0.3; exit 5", "5"},
	}
	for _, tc := range cases {
		c.exec(tc.args...)
		create := ev.find(t, func(e engine.Event) bool { return e.Action == "exec_create: "+tc.cmd })
		id := create.Attributes["execID"]
		if create.ContainerID == "" || create.Name != c.name || len(id) != 64 {
			t.Errorf("%s: exec_create %+v", tc.cmd, create)
		}
		start := ev.find(t, func(e engine.Event) bool { return e.Action == "exec_start: "+tc.cmd })
		if start.Attributes["execID"] != id {
			t.Errorf("%s: exec_start has exec ID %q, exec_create %q", tc.cmd, start.Attributes["execID"], id)
		}
		die := ev.find(t, func(e engine.Event) bool { return e.Action == "exec_die" })
		if die.Attributes["execID"] != id || die.ContainerID != create.ContainerID {
			t.Errorf("%s: exec_die %+v is not the exec's", tc.cmd, die)
		}
		if code := die.Attributes["exitCode"]; code != tc.code {
			t.Errorf("%s: exec_die exitCode %q, want %s", tc.cmd, code, tc.code)
		}
	}
	if r := c.exec("-d", "--", "no-such-program"); r.Code != 127 {
		t.Errorf("exec -d no-such-program: exit %d, want 127: %s", r.Code, r.Stderr)
	}
	if r := c.Run("exec", "-d", "no-such-container-"+c.name, "true"); r.Code != 125 || !strings.Contains(r.Stderr, "no such container") {
		t.Errorf("exec -d into no container: exit %d: %s", r.Code, r.Stderr)
	}
	waitNoKeeper(t, c.inspect().ID)
}

// execPidOf returns the host PID of the container process whose command line holds marker,
// 0 when there is none.
func execPidOf(t *testing.T, c *ctr, marker string) int {
	t.Helper()
	for _, line := range strings.Split(c.Run("top", c.name).Stdout, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) >= 6 && strings.Contains(strings.Join(f[5:], " "), marker) {
			pid, _ := strconv.Atoi(f[1])
			return pid
		}
	}
	return 0
}

// waitNoKeeper waits until no exec keeper whose arguments hold id (an exec's or a
// container's) runs.
func waitNoKeeper(t *testing.T, id string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if !keeperRuns(id) {
			return
		}
	}
	t.Errorf("the keeper of %s outlived its process", id)
}

func keeperRuns(id string) bool {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if strings.Contains(string(cmdline), engine.ExecKeeperEntry) && strings.Contains(string(cmdline), id) {
			return true
		}
	}
	return false
}

// events is `glassbox events --format json` running for the test.
type events struct {
	ch chan engine.Event
}

func watchEvents(t *testing.T, c *ctr) *events {
	t.Helper()
	cmd := c.Command("--format", "json", "events")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	ev := &events{ch: make(chan engine.Event, 256)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var e engine.Event
			if json.Unmarshal(sc.Bytes(), &e) == nil {
				ev.ch <- e
			}
		}
		close(ev.ch)
	}()
	// events starts at the end of the log, once it has opened it: exec until it shows one,
	// then read on past that exec's exec_die.
	for i := 0; i < 20; i++ {
		probe := "probe-" + strconv.Itoa(i)
		c.exec("sh", "-c", ": "+probe)
		select {
		case e := <-ev.ch:
			if strings.HasSuffix(e.Action, probe) {
				ev.find(t, func(d engine.Event) bool {
					return d.Action == "exec_die" && d.Attributes["execID"] == e.Attributes["execID"]
				})
				return ev
			}
		case <-time.After(time.Second):
		}
	}
	t.Fatal("glassbox events shows no exec")
	return nil
}

// find returns the first event (from where the last find stopped) that match accepts.
func (ev *events) find(t *testing.T, match func(engine.Event) bool) engine.Event {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case e, ok := <-ev.ch:
			if !ok {
				t.Fatal("glassbox events ended")
			}
			if match(e) {
				return e
			}
		case <-timeout:
			t.Fatal("the event never came")
		}
	}
}
