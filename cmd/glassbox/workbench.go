package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
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
	e, err := engine.Open(engine.Options{Root: g.root})
	if err != nil {
		return err
	}
	defer e.Close()
	b := workbenchBackend(e)
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
	if _, err := tea.NewProgram(m, tea.WithContext(ctx)).Run(); err != nil && !errors.Is(err, tea.ErrProgramKilled) {
		return fmt.Errorf("workbench: %w", err)
	}
	return nil
}

// workbenchBackend is the engine as the TUI's Backend. Until the container verbs of the engine
// are linked in (the lifecycle work), the image verbs work and the container verbs say why not.
func workbenchBackend(e *engine.Engine) tui.Backend {
	if b, ok := any(e).(tui.Backend); ok {
		return b
	}
	return imagesOnlyBackend{e}
}
