package tui_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glassbox/glassbox/test/fixture"
)

// term is the workbench running in a tmux server of its own, so tests never touch anyone
// else's sessions.
type term struct {
	t      *testing.T
	socket string
}

// terms counts the tmux servers started, so a test can open the workbench twice.
var terms int

// startTerm runs argv in a detached tmux window of w x h cells; the server dies with the test.
func startTerm(t *testing.T, w, h int, env []string, argv ...string) *term {
	t.Helper()
	fixture.NeedBinary(t, "tmux")
	terms++
	tm := &term{t: t, socket: fmt.Sprintf("glassbox-%s-%d-%d", strings.ReplaceAll(t.Name(), "/", "-"), os.Getpid(), terms)}
	t.Cleanup(func() {
		// kill-server leaves the socket's file behind: remove it too (tmux(1): the socket is
		// in $TMUX_TMPDIR, else /tmp, in tmux-UID).
		path, _ := exec.Command("tmux", "-L", tm.socket, "display-message", "-p", "#{socket_path}").Output()
		_ = exec.Command("tmux", "-L", tm.socket, "kill-server").Run()
		if p := strings.TrimSpace(string(path)); strings.HasSuffix(p, "/"+tm.socket) {
			os.Remove(p)
		}
	})
	shell := strings.Join(append(env, quoteAll(argv)...), " ")
	tm.tmux("new-session", "-d", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), "-s", "gb", "env TERM=xterm-256color "+shell)
	tm.tmux("set-option", "-t", "gb", "remain-on-exit", "on")
	return tm
}

func quoteAll(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return out
}

func (tm *term) tmux(args ...string) string {
	tm.t.Helper()
	// A tmux server that stops answering fails the test instead of hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "tmux", append([]string{"-L", tm.socket}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// screen is the window's text now.
func (tm *term) screen() string { return tm.tmux("capture-pane", "-p", "-t", "gb") }

// send types keys as tmux names them ("Enter", "Tab", "C-p") or literal text with -l.
func (tm *term) send(keys ...string) { tm.tmux(append([]string{"send-keys", "-t", "gb"}, keys...)...) }

func (tm *term) typeText(s string) { tm.tmux("send-keys", "-t", "gb", "-l", s) }

// waitFor polls the screen until every want appears. The deadline only bounds a hung test;
// it is not a measurement.
func (tm *term) waitFor(wants ...string) string {
	tm.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var s string
	for time.Now().Before(deadline) {
		s = tm.screen()
		ok := true
		for _, w := range wants {
			if !strings.Contains(s, w) {
				ok = false
				break
			}
		}
		if ok {
			return s
		}
		time.Sleep(100 * time.Millisecond)
	}
	tm.t.Fatalf("screen never showed %q:\n%s", wants, s)
	return ""
}

// exited waits for the program to end and returns its exit status. A loaded tmux server can
// be slow to reap its pane's process: a zombie has exited too, with its status in the last
// field of /proc/PID/stat (proc(5) exit_code, in waitpid(2)'s format).
func (tm *term) exited() int {
	tm.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	pid := strings.TrimSpace(tm.tmux("list-panes", "-t", "gb", "-F", "#{pane_pid}"))
	for time.Now().Before(deadline) {
		out := strings.Fields(tm.tmux("list-panes", "-t", "gb", "-F", "#{pane_dead} #{pane_dead_status}"))
		if len(out) == 2 && out[0] == "1" {
			var code int
			fmt.Sscan(out[1], &code)
			return code
		}
		if st, err := os.ReadFile("/proc/" + pid + "/stat"); err == nil {
			// The state follows the command's closing parenthesis.
			f := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+1:]))
			if len(f) > 0 && f[0] == "Z" {
				var status int
				fmt.Sscan(f[len(f)-1], &status)
				return status >> 8
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The pane's process may be the shell tmux started it with: signal its children too.
	pids := []string{pid}
	if b, err := os.ReadFile("/proc/" + pid + "/task/" + pid + "/children"); err == nil {
		pids = append(pids, strings.Fields(string(b))...)
	}
	// A process the signal cannot reach is stuck in the kernel: say where.
	var kernel strings.Builder
	for _, p := range pids {
		_ = exec.Command("kill", "-QUIT", p).Run()
		st, _ := os.ReadFile("/proc/" + p + "/stat")
		fmt.Fprintf(&kernel, "pid %s: %s\n", p, st)
		tasks, _ := filepath.Glob("/proc/" + p + "/task/*/stack")
		for _, task := range tasks {
			stack, _ := os.ReadFile(task)
			fmt.Fprintf(&kernel, "%s:\n%s", task, stack)
		}
	}
	time.Sleep(time.Second)
	tm.t.Fatalf("the workbench did not exit:\n%s\n%s", tm.tmux("capture-pane", "-p", "-t", "gb", "-S", "-300"), kernel.String())
	return -1
}
