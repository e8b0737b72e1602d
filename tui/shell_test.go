package tui

import (
	"slices"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/glassbox/glassbox/engine"
)

// openShell selects the first running container of a fake engine and presses enter.
func openShell(t *testing.T, f *fakeBackend, w, h int) *harness {
	t.Helper()
	hs := newHarness(t, f, Options{}, w, h)
	hs.keys("enter")
	hs.settle("a prompt", func() bool { return strings.Contains(ansi.Strip(hs.screen()), "$ ") })
	return hs
}

// A shell pane fed by the engine's stream: typed keys reach the container's stdin, its output
// (colours included) is drawn by the emulator inside the pane, and the footer says how to leave.
func TestShellTypesAndDraws(t *testing.T) {
	f := newFake(2)
	f.canExec = true
	hs := newHarness(t, f, Options{}, 120, 40)
	hs.keys("enter")
	hs.settle("the exec'd shell's prompt", func() bool { return strings.Contains(ansi.Strip(hs.screen()), "# ") })
	hs.typeText("echo hello-from-pane")
	hs.keys("enter")
	hs.settle("the shell's answer", func() bool {
		return strings.Count(ansi.Strip(hs.screen()), "hello-from-pane") == 2
	})
	s := hs.screen()
	// The answer is red: the emulator keeps the program's colours.
	if !strings.Contains(s, "hello-from-pane") || !strings.Contains(s, "\x1b[31m") {
		t.Errorf("the pane lost the shell's red:\n%q", s)
	}
	if !slices.Contains(f.calls, "exec "+f.containers[0].ID[:12]+" /bin/sh") {
		t.Errorf("enter should exec /bin/sh, calls %q", f.calls)
	}
	plain := ansi.Strip(s)
	if !strings.Contains(plain, "ctrl-p ctrl-q leave") {
		t.Errorf("the footer should say how to leave the shell:\n%s", plain)
	}
	// q goes to the shell, not to the workbench.
	hs.typeText("q")
	hs.settle("q echoed", func() bool { return strings.Contains(ansi.Strip(hs.screen()), "# q") })
	checkFrame(t, hs.screen(), 120, 40)
}

// Until the engine can exec, enter attaches the console and says so.
func TestShellFallsBackToConsole(t *testing.T) {
	f := newFake(2)
	hs := openShell(t, f, 120, 40)
	if !strings.Contains(ansi.Strip(hs.screen()), "console$ ") {
		t.Fatalf("want the console's prompt:\n%s", ansi.Strip(hs.screen()))
	}
	if !slices.Contains(f.calls, "attach "+f.containers[0].ID[:12]) {
		t.Errorf("calls %q lack the console attach", f.calls)
	}
}

// ctrl-p ctrl-q leaves the shell running and gives the keys back to the workbench; ctrl-p f
// toggles full screen; ctrl-p ctrl-p sends one ctrl-p to the shell.
func TestShellPrefixKeys(t *testing.T) {
	f := newFake(2)
	f.canExec = true
	hs := newHarness(t, f, Options{}, 100, 30)
	hs.keys("enter")
	hs.settle("a prompt", func() bool { return strings.Contains(ansi.Strip(hs.screen()), "# ") })

	hs.keys("ctrl+p", "f")
	if !hs.m.shell.fullscreen {
		t.Fatalf("ctrl-p f should make the shell full screen")
	}
	lines := strings.Split(ansi.Strip(hs.screen()), "\n")
	if len(lines) != 30 || !strings.Contains(lines[29], "ctrl-p ctrl-q leaves") || !strings.HasPrefix(lines[0], "# ") {
		t.Errorf("full screen should be the shell's screen and a status line:\n%s", strings.Join(lines, "\n"))
	}
	hs.settle("the full-screen size at the pty", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.sizes) > 0 && f.sizes[len(f.sizes)-1] == engine.Size{Rows: 29, Cols: 100}
	})
	hs.keys("ctrl+p", "f")
	if hs.m.shell.fullscreen {
		t.Fatalf("ctrl-p f again should leave full screen")
	}
	pw, ph := hs.m.paneSize()
	hs.settle("the pane's size at the pty", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.sizes[len(f.sizes)-1] == engine.Size{Rows: uint16(ph), Cols: uint16(pw)}
	})

	hs.keys("ctrl+p", "ctrl+p")
	hs.settle("one ctrl-p on stdin", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return strings.Count(string(f.stdin), "\x10") == 1
	})

	hs.keys("ctrl+p", "ctrl+q")
	if hs.m.typing() || !hs.m.shell.running() {
		t.Fatalf("ctrl-p ctrl-q should give the keys back and leave the shell running (typing %v, running %v)",
			hs.m.typing(), hs.m.shell.running())
	}
	// The workbench has its keys again: ? opens the help.
	hs.keys("?")
	if !hs.m.help {
		t.Errorf("after leaving, ? should open the help")
	}
	hs.keys("esc")
	// enter goes back to the same shell, not a new one.
	calls := len(f.calls)
	hs.keys("enter")
	if !hs.m.typing() || len(f.calls) != calls {
		t.Errorf("enter should return to the running shell (calls %q)", f.calls[calls:])
	}
}

// The shell ending is shown with its code, and the pane keeps its last screen.
func TestShellExit(t *testing.T) {
	f := newFake(2)
	f.canExec = true
	hs := newHarness(t, f, Options{}, 120, 40)
	hs.keys("enter")
	hs.settle("a prompt", func() bool { return strings.Contains(ansi.Strip(hs.screen()), "# ") })
	hs.typeText("exit 3")
	hs.keys("enter")
	hs.settle("the exit", func() bool { return strings.Contains(ansi.Strip(hs.screen()), "shell exited with code 3") })
	if !strings.Contains(ansi.Strip(hs.screen()), "last screen:") {
		t.Errorf("the pane should keep the shell's last screen:\n%s", ansi.Strip(hs.screen()))
	}
}

// f from the list opens the shell full screen; a stopped container says why there is none.
func TestShellFullScreenKeyAndStopped(t *testing.T) {
	f := newFake(2)
	f.canExec = true
	hs := newHarness(t, f, Options{}, 100, 30)
	hs.keys("f")
	hs.settle("a full-screen prompt", func() bool { return strings.HasPrefix(ansi.Strip(hs.screen()), "# ") })
	hs.keys("ctrl+p", "ctrl+q")
	hs.keys("down") // box-001 ("web") has exited
	hs.keys("x")
	if s := ansi.Strip(hs.screen()); !strings.Contains(s, "web is exited: start it to open a shell") {
		t.Errorf("a stopped container should say why no shell opens:\n%s", s)
	}
}
