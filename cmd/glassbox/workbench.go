package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/glassbox/glassbox/engine"
	"github.com/glassbox/glassbox/inspect"
	"github.com/glassbox/glassbox/tui"
)

// The workbench opens when glassbox runs without a verb.
func init() { openWorkbench = runWorkbench }

func runWorkbench(ctx context.Context, g *globals) error {
	if os.Geteuid() != 0 {
		return exitStatus(exitEngineError, errors.New("the workbench runs containers: run it as root (sudo glassbox)"))
	}
	// The engine's debug log would scribble over the screen; the workbench shows errors itself.
	// Events are looked for once a second, not ten times: each look wakes the process, and
	// the 100ms default alone cost an idle workbench 0.6-0.9 % of a core on a 2-core VM (the
	// workbench's own actions reload at once; a cgroup that vanishes does within a second).
	e, err := engine.Open(engine.Options{Root: g.root, EventsPoll: time.Second})
	if err != nil {
		return err
	}
	defer e.Close()
	var b tui.Backend = e
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	poller := inspect.NewPoller(time.Second)
	defer poller.Close()
	m := tui.New(ctx, b, tui.Options{
		Theme:   os.Getenv("GLASSBOX_THEME"),
		NoColor: os.Getenv("NO_COLOR") != "",
		// One implementation of the kernel views for the CLI and the workbench: package inspect.
		Stats:   poller,
		Inspect: inspect.Host{},
		Starter: func(ctx context.Context) (string, error) {
			return tui.BuildStarter(ctx, b, "/bin/busybox")
		},
	})
	// GLASSBOX_CPUPROFILE=file writes a CPU profile of the session (for the idle-cost benchmark).
	if path := os.Getenv("GLASSBOX_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fps := workbenchFPS()
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithFPS(fps))
	m.PaceFrames(p, fps)
	if _, err := p.Run(); err != nil && !errors.Is(err, tea.ErrProgramKilled) {
		return fmt.Errorf("workbench: %w", err)
	}
	return nil
}

// workbenchFPS is how often Bubble Tea's renderer wakes to flush a changed frame while
// something changes (the workbench slows it to once a second when idle: tui.PaceFrames):
// 30 frames a second keeps typing in the shell pane immediate (33 ms at most). GLASSBOX_FPS
// overrides it (1-120).
func workbenchFPS() int {
	if n, err := strconv.Atoi(os.Getenv("GLASSBOX_FPS")); err == nil && n >= 1 && n <= 120 {
		return n
	}
	return 30
}
