package tui

import (
	"context"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/glassbox/glassbox/engine"
	"github.com/glassbox/glassbox/inspect"
)

// checkFrame asserts the screen is exactly w x h cells: no line wider, no line missing.
func checkFrame(t *testing.T, screen string, w, h int) {
	t.Helper()
	lines := strings.Split(screen, "\n")
	if len(lines) != h {
		t.Errorf("screen has %d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if got := ansi.StringWidth(l); got > w {
			t.Errorf("line %d is %d cells wide, want at most %d: %q", i, got, w, ansi.Strip(l))
		}
	}
}

func TestRenderSizes(t *testing.T) {
	for _, size := range []struct{ w, h int }{{80, 24}, {120, 40}, {200, 60}, {40, 10}} {
		h := newHarness(t, newFake(5), Options{}, size.w, size.h)
		s := h.screen()
		checkFrame(t, s, size.w, size.h)
		plain := ansi.Strip(s)
		for _, want := range []string{"glassbox", "box-000", "Containers 5"} {
			if !strings.Contains(plain, want) {
				t.Errorf("%dx%d: screen lacks %q:\n%s", size.w, size.h, want, plain)
			}
		}
	}
}

func TestHeaderShowsHostFacts(t *testing.T) {
	h := newHarness(t, newFake(3), Options{}, 120, 40)
	header := ansi.Strip(strings.Split(h.screen(), "\n")[0])
	for _, want := range []string{"kernel 6.18.0-test", "cgroup hybrid", "overlay ✓", "userns ✓", "running 1/3", "images 1"} {
		if !strings.Contains(header, want) {
			t.Errorf("header %q lacks %q", header, want)
		}
	}
}

func TestTooSmall(t *testing.T) {
	h := newHarness(t, newFake(1), Options{}, 30, 8)
	if !strings.Contains(h.screen(), "needs at least 40x10") {
		t.Errorf("a 30x8 window should say it is too small, got %q", h.screen())
	}
}

func TestFilter(t *testing.T) {
	h := newHarness(t, newFake(8), Options{}, 100, 30)
	h.keys("/")
	h.typeText("web")
	plain := ansi.Strip(h.screen())
	if !strings.Contains(plain, "Containers 1/8") {
		t.Errorf("filter 'web' should leave 1 of 8:\n%s", plain)
	}
	if strings.Contains(plain, "box-000") {
		t.Errorf("filtered list still shows box-000:\n%s", plain)
	}
	if c, ok := h.m.list.selectedContainer(); !ok || c.Name != "web" {
		t.Errorf("selection after filter = %q, want web", c.Name)
	}
	// enter keeps the filter, esc clears it.
	h.keys("enter")
	if !strings.Contains(ansi.Strip(h.screen()), "Containers 1/8") {
		t.Errorf("enter dropped the filter")
	}
	h.keys("esc")
	if !strings.Contains(ansi.Strip(h.screen()), "Containers 8") || strings.Contains(ansi.Strip(h.screen()), "1/8") {
		t.Errorf("esc should clear the filter:\n%s", ansi.Strip(h.screen()))
	}
	// The filter matches states too.
	h.keys("/")
	h.typeText("exited")
	if got := len(h.m.list.visible); got != 2 {
		t.Errorf("filter 'exited' shows %d containers, want 2", got)
	}
}

func TestListNavigation(t *testing.T) {
	h := newHarness(t, newFake(50), Options{}, 80, 24)
	h.keys("j", "j", "down")
	if c, _ := h.m.list.selectedContainer(); c.Name != "box-003" {
		t.Errorf("after 3 downs selected %q, want box-003", c.Name)
	}
	h.keys("G")
	if c, _ := h.m.list.selectedContainer(); c.Name != "box-049" {
		t.Errorf("G selected %q, want box-049", c.Name)
	}
	if !strings.Contains(ansi.Strip(h.screen()), "box-049") {
		t.Errorf("the list did not scroll to the last row")
	}
	h.keys("g", "k")
	if c, _ := h.m.list.selectedContainer(); c.Name != "box-000" {
		t.Errorf("g then k selected %q, want box-000", c.Name)
	}
}

func TestMouseSelectsRowAndTab(t *testing.T) {
	h := newHarness(t, newFake(5), Options{}, 100, 30)
	// Row y: header line 0, box border 1, column header 2, first container 3.
	h.send(tea.MouseClickMsg{X: 3, Y: 5, Button: tea.MouseLeft})
	if c, _ := h.m.list.selectedContainer(); c.Name != "box-002" {
		t.Errorf("click on the third row selected %q, want box-002", c.Name)
	}
	g := h.m.geometry()
	x := g.leftW + 1 + strings.Index(ansi.Strip(h.m.tabBar(200)), "3·Layers")
	h.send(tea.MouseClickMsg{X: x, Y: 2, Button: tea.MouseLeft})
	if got := h.m.activePane().title(); got != "Layers" {
		t.Errorf("click on the Layers tab opened %q", got)
	}
	if !h.m.focusPane {
		t.Errorf("a click in the pane should focus it")
	}
}

func TestTabSwitching(t *testing.T) {
	h := newHarness(t, newFake(3), Options{}, 120, 40)
	want := func(title string) {
		t.Helper()
		if got := h.m.activePane().title(); got != title {
			t.Errorf("active tab %q, want %q", got, title)
		}
	}
	want("Overview")
	h.keys("tab")
	want("Cgroups")
	h.keys("tab", "tab", "tab")
	want("Processes")
	h.keys("shift+tab")
	want("Namespaces")
	h.keys("7")
	want("Trace")
	h.keys("1", "shift+tab")
	want("Security")
	h.keys("i", "3")
	want("Config")
	h.keys("9") // images have three tabs: stays
	want("Config")
}

func TestOverviewShowsProcessChain(t *testing.T) {
	h := newHarness(t, newFake(3), Options{}, 120, 40)
	plain := ansi.Strip(h.screen())
	for _, want := range []string{"shim  pid 900", "init  pid 1000", "memory      64.0MiB", "/sys/fs/cgroup/memory/glassbox/", "upper"} {
		if want == "memory      64.0MiB" {
			want = "memory      67.1MB" // 64 MiB in docker's decimal units
		}
		if !strings.Contains(plain, want) {
			t.Errorf("Overview lacks %q:\n%s", want, plain)
		}
	}
	if strings.Contains(plain, "/box-000") {
		t.Errorf("Overview shows docker's leading slash in the name")
	}
}

func TestLogsTabFollowsAndSearches(t *testing.T) {
	h := newHarness(t, newFake(3), Options{}, 120, 40)
	h.keys("l")
	plain := ansi.Strip(h.screen())
	for _, want := range []string{"starting web server", "warning: no config", "listening on :8080", "end of log"} {
		if !strings.Contains(plain, want) {
			t.Errorf("Logs lacks %q:\n%s", want, plain)
		}
	}
	if strings.Contains(h.screen(), "\x1b[31mwarning") {
		t.Errorf("the log's own escape sequences reached the screen")
	}
	h.keys("/")
	h.typeText("listen")
	h.keys("enter")
	p := h.m.activePane().(*logsPane)
	if p.matchAt != 2 {
		t.Errorf("search 'listen' matched line %d, want 2", p.matchAt)
	}
}

func TestTraceWaterfall(t *testing.T) {
	h := newHarness(t, newFake(3), Options{}, 120, 40)
	h.keys("7")
	plain := ansi.Strip(h.screen())
	for _, want := range []string{"clone", "pivot_root", "execve", "6.1ms", "clone at +0µs took 2.0ms (pid 10)"} {
		if !strings.Contains(plain, want) {
			t.Errorf("Trace lacks %q:\n%s", want, plain)
		}
	}
}

func TestLayersTab(t *testing.T) {
	f := newFake(0)
	h := newHarness(t, f, Options{}, 120, 40)
	h.keys("i", "2")
	plain := ansi.Strip(h.screen())
	for _, want := range []string{"Images 1", "ADD rootfs.tar /", "rm /etc/motd", "efficiency 98.0%", "wasted 4.10kB", "- -rw-r--r--", "motd", "+ -rw-r--r--"} {
		if !strings.Contains(plain, want) {
			t.Errorf("Layers lacks %q:\n%s", want, plain)
		}
	}
	if !f.called("layertree 1") {
		t.Errorf("the Layers tab should open on the top layer (1)")
	}
	h.keys("right", "[")
	if !strings.Contains(ansi.Strip(h.screen()), "busybox → ") && !strings.Contains(ansi.Strip(h.screen()), "sh → /bin/busybox") {
		t.Errorf("layer 0's tree lacks bin/sh:\n%s", ansi.Strip(h.screen()))
	}
	h.keys("m")
	if !f.called("layertree -1") || !strings.Contains(ansi.Strip(h.screen()), "merged view") {
		t.Errorf("m should show the merged view")
	}
}

func TestLayersOfContainerShowUpperDir(t *testing.T) {
	h := newHarness(t, newFake(2), Options{}, 120, 40)
	h.keys("3", "right", "]")
	plain := ansi.Strip(h.screen())
	for _, want := range []string{"container upper directory", "upper directory", ".ash_history"} {
		if !strings.Contains(plain, want) {
			t.Errorf("container Layers lacks %q:\n%s", want, plain)
		}
	}
}

func TestRemoveAsksFirst(t *testing.T) {
	f := newFake(3)
	h := newHarness(t, f, Options{}, 100, 30)
	h.keys("d")
	if !strings.Contains(ansi.Strip(h.screen()), "Remove container box-000?") {
		t.Fatalf("d should ask:\n%s", ansi.Strip(h.screen()))
	}
	h.keys("n")
	if f.called("remove") {
		t.Fatalf("n removed the container")
	}
	h.keys("d", "y")
	if !f.called("remove " + f.containers[0].ID) {
		t.Errorf("d y did not remove box-000: %v", f.calls)
	}
}

func TestStopAndKill(t *testing.T) {
	f := newFake(3)
	h := newHarness(t, f, Options{}, 100, 30)
	h.keys("s")
	if !strings.Contains(ansi.Strip(h.screen()), "Stop container box-000?") || f.called("stop") {
		t.Fatalf("s should ask first:\n%s", ansi.Strip(h.screen()))
	}
	h.keys("y", "K")
	if f.called("kill") {
		t.Fatalf("K should ask first")
	}
	h.keys("y")
	if !f.called("stop "+f.containers[0].ID) || !f.called("kill "+f.containers[0].ID+" 9") {
		t.Errorf("s and K should stop and SIGKILL box-000: %v", f.calls)
	}
}

func TestQuitLeavesContainers(t *testing.T) {
	f := newFake(3)
	m := New(t.Context(), f, Options{})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	_, cmd := m.Update(keyMsg("q"))
	if cmd == nil {
		t.Fatal("q returned no command")
	}
	if _, ok := runAll(cmd).(tea.QuitMsg); !ok {
		t.Errorf("q did not quit")
	}
	if f.called("stop") || f.called("kill") || f.called("remove") {
		t.Errorf("quitting touched containers: %v", f.calls)
	}
}

// runAll runs cmd and the first command of any batch, returning the first quit it finds.
func runAll(cmd tea.Cmd) tea.Msg {
	msg := cmd()
	if b, ok := msg.(tea.BatchMsg); ok {
		for _, c := range b {
			if c == nil {
				continue
			}
			if m, ok := c().(tea.QuitMsg); ok {
				return m
			}
		}
	}
	return msg
}

func TestHelpListsEveryKey(t *testing.T) {
	h := newHarness(t, newFake(1), Options{}, 200, 60)
	h.keys("?")
	plain := ansi.Strip(h.screen())
	binds := append(h.m.keys.all(), h.m.list.keys.bindings()...)
	for _, p := range h.m.tabs() {
		binds = append(binds, p.keys()...)
	}
	for _, b := range binds {
		if !b.Enabled() {
			continue
		}
		if !strings.Contains(plain, b.Help().Desc) {
			t.Errorf("help lacks %q (%s)", b.Help().Desc, b.Help().Key)
		}
	}
	h.keys("x")
	if strings.Contains(ansi.Strip(h.screen()), "Global") {
		t.Errorf("any key should close the help")
	}
}

func TestNoColor(t *testing.T) {
	h := newHarness(t, newFake(4), Options{NoColor: true}, 120, 40)
	s := h.screen()
	for _, seq := range []string{"\x1b[3", "\x1b[9", "\x1b[4", "38;", "48;"} {
		// Only SGR attributes (bold 1, underline 4, reverse 7) may appear; no colours.
		for _, m := range sgrParams(s) {
			if strings.Contains(m, seq) || strings.HasPrefix(m, "3") && m != "3" || strings.HasPrefix(m, "9") {
				t.Fatalf("NO_COLOR screen has colour SGR %q", m)
			}
		}
	}
	h2 := newHarness(t, newFake(4), Options{}, 120, 40)
	if len(sgrParams(h2.screen())) == len(sgrParams(s)) && strings.Contains(h2.screen(), "38;2") == false {
		t.Errorf("the dark theme should use colour")
	}
}

// sgrParams lists the parameters of every SGR sequence (ESC [ ... m) in s, split at ';'.
func sgrParams(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "\x1b[")
		if i < 0 {
			return out
		}
		s = s[i+2:]
		j := strings.IndexAny(s, "mABCDHJK")
		if j < 0 {
			return out
		}
		if s[j] == 'm' {
			out = append(out, strings.Split(s[:j], ";")...)
		}
		s = s[j+1:]
	}
}

func TestPullDialogShowsLayers(t *testing.T) {
	f := newFake(0)
	h := newHarness(t, f, Options{}, 120, 40)
	h.keys("p")
	h.typeText("127.0.0.1:5000/busybox:latest")
	h.keys("enter")
	plain := ansi.Strip(h.screen())
	for _, want := range []string{"Pull an image", "111111111111", "222222222222", "done", "exists", "pulled abababababab"} {
		if !strings.Contains(plain, want) {
			t.Errorf("pull dialog lacks %q:\n%s", want, plain)
		}
	}
	if !f.called("pull 127.0.0.1:5000/busybox:latest") {
		t.Errorf("no pull: %v", f.calls)
	}
	h.keys("enter")
	if h.m.dialog != nil {
		t.Errorf("enter after the pull should close the dialog")
	}
}

func TestRunDialog(t *testing.T) {
	f := newFake(1)
	h := newHarness(t, f, Options{}, 120, 40)
	h.keys("r")
	if !strings.Contains(ansi.Strip(h.screen()), "127.0.0.1:5000/busybox:latest") {
		t.Fatalf("the run dialog should offer the store's image:\n%s", ansi.Strip(h.screen()))
	}
	h.keys("tab", "tab")
	h.typeText("sleep 100")
	h.keys("tab")
	h.typeText("lots")
	h.keys("enter")
	if !strings.Contains(ansi.Strip(h.screen()), `memory "lots"`) || f.called("create") {
		t.Fatalf("a bad memory size should be refused in the dialog:\n%s", ansi.Strip(h.screen()))
	}
	h.keys("backspace")
	for range "lots" {
		h.send(tea.KeyPressMsg{Code: tea.KeyBackspace})
	}
	h.typeText("64m")
	h.keys("enter")
	if !f.called("create 127.0.0.1:5000/busybox:latest sleep 100") || !f.called("start ffff") {
		t.Errorf("run should create and start: %v", f.calls)
	}
	// The list selects the new container when it shows up.
	f.mu.Lock()
	f.containers = append(f.containers, engine.Container{ID: strings.Repeat("f", 64), Name: "new", State: "running"})
	f.mu.Unlock()
	h.run(h.m.loadContainers())
	if c, _ := h.m.list.selectedContainer(); c.Name != "new" {
		t.Errorf("after run the list selects %q, want the new container", c.Name)
	}
}

func TestStarterOfferedWithoutImages(t *testing.T) {
	f := newFake(0)
	f.images = nil
	built := false
	h := newHarness(t, f, Options{Starter: func(ctx context.Context) (string, error) {
		built = true
		return StarterRef, nil
	}}, 100, 30)
	if !strings.Contains(ansi.Strip(h.screen()), "b build starter image") {
		t.Errorf("no starter offer in the footer:\n%s", ansi.Strip(h.screen()))
	}
	h.keys("b")
	if !built {
		t.Errorf("b did not build the starter image")
	}
}

func TestThemeToggle(t *testing.T) {
	h := newHarness(t, newFake(2), Options{}, 100, 30)
	dark := h.screen()
	h.keys("T")
	if h.m.th.Name != "light" || h.screen() == dark {
		t.Errorf("T should switch to the light theme")
	}
}

// TestEveryTabFitsEverySize opens every tab, for a container and for an image, at small and
// large sizes, with the help and the dialogs too: each frame must be exactly the window.
func TestEveryTabFitsEverySize(t *testing.T) {
	for _, size := range []struct{ w, h int }{{40, 10}, {80, 24}, {120, 40}, {250, 70}} {
		f := newFake(30)
		f.cgroupRoot = t.TempDir()
		for _, c := range f.containers {
			writeCgroupV1(t, f.cgroupRoot, c.ID, 1)
		}
		poller := inspect.NewPoller(0)
		t.Cleanup(poller.Close)
		h := newHarness(t, f, Options{Stats: poller, Inspect: fakeInspector{}}, size.w, size.h)
		h.send(statsTickMsg(t0))
		h.send(statsTickMsg(t0))
		h.send(statsTickMsg(t0))
		for kind := 0; kind < 2; kind++ {
			for i := range h.m.tabs() {
				h.m.switchTab(i)
				h.send(keyMsg("left"))
				checkFrame(t, h.screen(), size.w, size.h)
			}
			h.keys("i")
		}
		for _, k := range []string{"?", "p", "r", "d"} {
			h.keys(k)
			checkFrame(t, h.screen(), size.w, size.h)
			h.keys("esc")
		}
	}
}
