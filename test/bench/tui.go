package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/glassbox/glassbox/test/fixture"
)

// The tui-idle case: N `sleep` containers running (GLASSBOX_TUI_N, default 20) for over a
// minute (GLASSBOX_TUI_SETTLE seconds), the workbench open on them in a tmux window of 120x40
// with the default stats interval (1 s), and nobody typing. Over GLASSBOX_TUI_SECONDS (default 30) it reads the CPU time (utime+stime in
// /proc/PID/stat, every thread) of the workbench and of the tmux server drawing it, as a
// percent of one core, and the workbench's RSS. Side by side in the same window, the floor: an
// empty Bubble Tea program (one fixed line, same renderer frame rate) in a tmux of its own.
// Setting GLASSBOX_FPS passes it to both; GLASSBOX_CPUPROFILE=file reaches the workbench, which
// writes its CPU profile there when the case quits it.
func init() {
	// The floor program is this binary run again (see teaFloor).
	if fps := os.Getenv("GLASSBOX_BENCH_TEA_FLOOR"); fps != "" {
		os.Exit(teaFloor(fps))
	}
	register(Case{
		Name:    "tui-idle",
		About:   "workbench idle over N running containers (GLASSBOX_TUI_N, default 20): CPU % of a core and RSS, vs an empty Bubble Tea program",
		Rounds:  1,
		Prepare: func(env *Env) ([]Contender, error) { return nil, nil },
		Extra:   tuiIdleExtra,
	})
}

// floorModel is the least a Bubble Tea program can be: no messages, one fixed view.
type floorModel struct{}

func (floorModel) Init() tea.Cmd                       { return nil }
func (floorModel) Update(tea.Msg) (tea.Model, tea.Cmd) { return floorModel{}, nil }
func (floorModel) View() tea.View {
	v := tea.NewView("an empty Bubble Tea program")
	v.AltScreen = true
	return v
}

func teaFloor(fps string) int {
	n, _ := strconv.Atoi(fps)
	if _, err := tea.NewProgram(floorModel{}, tea.WithFPS(n)).Run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// tmuxWindow is one program in a detached tmux server of its own.
type tmuxWindow struct {
	socket string
}

func startTmux(env *Env, name string, w, h int, cmdline string) (*tmuxWindow, error) {
	t := &tmuxWindow{socket: fmt.Sprintf("glassbox-bench-%s-%d", name, os.Getpid())}
	env.Cleanup(func() { exec.Command("tmux", "-L", t.socket, "kill-server").Run() })
	// exec: the pane's process is the program itself, not a shell around it.
	if err := Command("tmux", "-L", t.socket, "new-session", "-d", "-x", strconv.Itoa(w), "-y", strconv.Itoa(h),
		"-s", "b", "exec env TERM=xterm-256color "+cmdline); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *tmuxWindow) query(format string) (string, error) {
	out, err := exec.Command("tmux", "-L", t.socket, "display-message", "-p", "-t", "b", format).Output()
	return strings.TrimSpace(string(out)), err
}

func (t *tmuxWindow) pids() (program, server int, err error) {
	s, err := t.query("#{pane_pid} #{pid}")
	if err != nil {
		return 0, 0, err
	}
	_, err = fmt.Sscan(s, &program, &server)
	return program, server, err
}

func (t *tmuxWindow) waitFor(want string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var screen []byte
	for time.Now().Before(deadline) {
		screen, _ = exec.Command("tmux", "-L", t.socket, "capture-pane", "-p", "-t", "b").Output()
		if bytes.Contains(screen, []byte(want)) {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("the screen never showed %q:\n%s", want, screen)
}

// cpuTicks is a process's utime+stime in clock ticks (proc(5): fields 14 and 15 of stat,
// which count all its threads).
func cpuTicks(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	// After the command, the state is field 3: utime (14) and stime (15) are f[11] and f[12].
	u, _ := strconv.ParseUint(f[11], 10, 64)
	s, _ := strconv.ParseUint(f[12], 10, 64)
	return u + s, nil
}

func processAlive(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}

func rssKiB(pid int) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(rest)[0])
			return n
		}
	}
	return 0
}

// clockTicks is USER_HZ, which is 100 on every Linux architecture glassbox runs on
// (sysconf(_SC_CLK_TCK) is fixed by the kernel ABI).
const clockTicks = 100

func tuiIdleExtra(env *Env) error {
	if _, err := exec.LookPath("tmux"); err != nil {
		fmt.Println("  tmux: not installed")
		return nil
	}
	n, secs := envInt("GLASSBOX_TUI_N", 20), envInt("GLASSBOX_TUI_SECONDS", 30)
	fps := os.Getenv("GLASSBOX_FPS")
	if fps == "" {
		fps = "30"
	}
	reg := fixture.NewRegistry()
	env.Cleanup(reg.Close)
	img, err := fixture.Busybox()
	if err != nil {
		return err
	}
	ref, err := reg.Push("busybox:latest", img)
	if err != nil {
		return err
	}
	root := filepath.Join(env.Tmp, "tui-glassbox")
	env.Cleanup(func() {
		exec.Command(env.Glassbox, "--root", root, "gc").Run()
		fixture.UnmountUnder(root)
		os.RemoveAll(root)
	})
	if err := Command(env.Glassbox, "--root", root, "pull", "-q", ref); err != nil {
		return err
	}
	var ids []string
	env.Cleanup(func() {
		if len(ids) > 0 {
			exec.Command(env.Glassbox, append([]string{"--root", root, "rm", "-f"}, ids...)...).Run()
		}
	})
	for i := 0; i < n; i++ {
		out, err := exec.Command(env.Glassbox, "--root", root, "run", "-d", "--network", "none", ref, "sleep", "100000").Output()
		if err != nil {
			return fmt.Errorf("glassbox run -d #%d: %w", i, err)
		}
		ids = append(ids, strings.TrimSpace(string(out)))
	}
	env.Logf("%d containers running", n)
	started := time.Now()

	self, err := os.Executable()
	if err != nil {
		return err
	}
	gb, err := startTmux(env, "gb", 120, 40, "GLASSBOX_FPS="+fps+" "+env.Glassbox+" --root "+root)
	if err != nil {
		return err
	}
	floor, err := startTmux(env, "floor", 120, 40, "GLASSBOX_BENCH_TEA_FLOOR="+fps+" "+self)
	if err != nil {
		return err
	}
	if err := gb.waitFor(fmt.Sprintf("running %d/%d", n, n), 60*time.Second); err != nil {
		return err
	}
	if err := floor.waitFor("an empty Bubble Tea program", 30*time.Second); err != nil {
		return err
	}
	// Let the first polls, inspections and sparklines settle before the window opens, and the
	// uptimes pass a minute: below one, the list shows seconds, so the screen changes (and is
	// drawn) every second, which is not idle. GLASSBOX_TUI_SETTLE=0 measures that instead.
	settle := time.Duration(envInt("GLASSBOX_TUI_SETTLE", 61)) * time.Second
	if os.Getenv("GLASSBOX_TUI_SETTLE") == "0" {
		settle = 0
	}
	time.Sleep(max(3*time.Second, time.Until(started.Add(settle))))
	type watched struct {
		name string
		pid  int
		t0   uint64
	}
	var ws []watched
	for _, t := range []struct {
		name string
		w    *tmuxWindow
	}{{"glassbox workbench", gb}, {"empty bubbletea", floor}} {
		prog, server, err := t.w.pids()
		if err != nil {
			return err
		}
		ws = append(ws, watched{name: t.name, pid: prog}, watched{name: t.name + "'s tmux server", pid: server})
	}
	for i := range ws {
		if ws[i].t0, err = cpuTicks(ws[i].pid); err != nil {
			return err
		}
	}
	start := time.Now()
	time.Sleep(time.Duration(secs) * time.Second)
	elapsed := time.Since(start).Seconds()
	fmt.Printf("  %d running containers (up %v), %s fps, 120x40, %d s window (CPU from /proc/PID/stat)\n", n,
		time.Since(started).Round(time.Second)-time.Duration(elapsed*float64(time.Second)).Round(time.Second), fps, secs)
	pct := make([]float64, len(ws))
	for i, w := range ws {
		t1, err := cpuTicks(w.pid)
		if err != nil {
			return err
		}
		pct[i] = float64(t1-w.t0) / clockTicks / elapsed * 100
		fmt.Printf("  %-32s %6.2f %% of a core   RSS %6d KiB\n", w.name, pct[i], rssKiB(w.pid))
	}
	if pct[2] > 0 {
		fmt.Printf("  workbench / empty bubbletea: %.2fx\n", pct[0]/pct[2])
	}
	// Quit the workbench the way a user does, so what it writes at exit (GLASSBOX_CPUPROFILE)
	// is written, and wait for it to end.
	exec.Command("tmux", "-L", gb.socket, "send-keys", "-t", "b", "q").Run()
	for i := 0; i < 50 && processAlive(ws[0].pid); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}
