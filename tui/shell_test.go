package tui

import (
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
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

// One session per container: x on a container whose shell runs returns to it (no second
// exec); a shell in another container runs beside it; each container shows its own.
func TestShellOneSessionPerContainer(t *testing.T) {
	f := newFake(4) // box-000 and box-003 run
	f.canExec = true
	hs := newHarness(t, f, Options{}, 120, 40)
	first, _ := hs.m.list.selectedContainer()
	hs.keys("x")
	hs.settle("a prompt", func() bool { return strings.Contains(ansi.Strip(hs.screen()), "# ") })
	hs.typeText("echo in-first")
	hs.keys("enter")
	hs.settle("the first shell's answer", func() bool { return strings.Count(ansi.Strip(hs.screen()), "in-first") == 2 })
	hs.keys("ctrl+p", "ctrl+q")

	// Another running container gets its own shell; the first one keeps running.
	for range 3 {
		hs.keys("down")
	}
	second, _ := hs.m.list.selectedContainer()
	if second.ID == first.ID || second.State != "running" {
		t.Fatalf("want the other running container, got %s (%s)", second.Name, second.State)
	}
	hs.keys("x")
	hs.settle("the second shell's prompt", func() bool {
		s := ansi.Strip(hs.screen())
		return strings.Contains(s, "# ") && !strings.Contains(s, "in-first")
	})
	execs := func() int {
		f.mu.Lock()
		defer f.mu.Unlock()
		n := 0
		for _, c := range f.calls {
			if strings.HasPrefix(c, "exec ") {
				n++
			}
		}
		return n
	}
	if execs() != 2 {
		t.Fatalf("want one exec per container, calls %q", f.calls)
	}
	hs.keys("ctrl+p", "ctrl+q")
	for range 3 {
		hs.keys("up")
	}
	// Back on the first container: its session, still running, with its screen.
	if !hs.m.shell.running() || !strings.Contains(ansi.Strip(hs.screen()), "in-first") {
		t.Fatalf("the first container should show its running shell:\n%s", ansi.Strip(hs.screen()))
	}
	hs.keys("x")
	if !hs.m.typing() || execs() != 2 {
		t.Errorf("x should return to the running shell, not start another (calls %q)", f.calls)
	}
	hs.typeText("echo again")
	hs.keys("enter")
	hs.settle("the first shell answering again", func() bool { return strings.Contains(ansi.Strip(hs.screen()), "again") })
	// A shell that exits frees its container for a new one.
	hs.typeText("exit 0")
	hs.keys("enter")
	hs.settle("the exit", func() bool { return strings.Contains(ansi.Strip(hs.screen()), "shell exited with code 0") })
	if s := ansi.Strip(hs.screen()); !strings.Contains(s, "shells run in "+second.Name) {
		t.Errorf("the pane should name the container whose shell still runs:\n%s", s)
	}
	hs.keys("x")
	if execs() != 3 {
		t.Errorf("x after the shell exited should start a new one, calls %q", f.calls)
	}
}

// Mouse events over the focused shell reach the program in it once it asked for them (SGR
// reports, at the cell under the pointer, relative to the shell's screen); before that they
// are dropped, as a terminal drops them.
func TestShellMouse(t *testing.T) {
	f := newFake(2)
	f.canExec = true
	hs := newHarness(t, f, Options{}, 120, 40)
	hs.keys("x")
	hs.settle("a prompt", func() bool { return strings.Contains(ansi.Strip(hs.screen()), "# ") })
	g := hs.m.geometry()
	click := tea.MouseClickMsg{X: g.leftW + 1 + 4, Y: g.bodyTop + 2 + 2, Button: tea.MouseLeft}
	stdin := func() string {
		f.mu.Lock()
		defer f.mu.Unlock()
		return string(f.stdin)
	}
	hs.send(click)
	if strings.Contains(stdin(), "\x1b[<") {
		t.Fatalf("a click reached a program that did not ask for the mouse: %q", stdin())
	}
	if !hs.m.typing() {
		t.Fatal("a click in the shell should keep the keys in the shell")
	}
	hs.typeText("mouse")
	hs.keys("enter")
	hs.settle("the mouse mode set", func() bool {
		return strings.Count(stdin(), "mouse") == 1 && strings.Count(ansi.Strip(hs.screen()), "# ") == 2
	})
	hs.send(click)
	hs.send(tea.MouseReleaseMsg{X: click.X, Y: click.Y, Button: tea.MouseLeft})
	hs.send(tea.MouseWheelMsg{X: click.X, Y: click.Y, Button: tea.MouseWheelDown})
	hs.settle("SGR mouse reports on stdin", func() bool {
		s := stdin()
		// Cells count from 1 in the reports: (4, 2) on the shell's screen is 5;3.
		return strings.Contains(s, "\x1b[<0;5;3M") && strings.Contains(s, "\x1b[<0;5;3m") && strings.Contains(s, "\x1b[<65;5;3M")
	})
	// A click outside the shell (on the list) is the workbench's: it takes the focus back.
	hs.send(tea.MouseClickMsg{X: 3, Y: g.bodyTop + 2, Button: tea.MouseLeft})
	if hs.m.typing() {
		t.Error("a click on the list should give the keys back to the workbench")
	}
}
