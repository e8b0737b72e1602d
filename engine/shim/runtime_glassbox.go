//go:build glassbox_runtime

package shim

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/glassbox/glassbox/engine/runtime"
)

// glassboxRuntime is glassbox's own runtime (engine/runtime, RUNTIME_API.md) in-process: the
// container's init is the shim's own child, with no runc process in between. Built with the
// glassbox_runtime tag until engine/runtime is on main; then it becomes the default.
type glassboxRuntime struct{ r *runtime.Runtime }

// NewGlassbox opens the runtime with its state under stateDir.
func NewGlassbox(stateDir string) (Runtime, error) {
	r, err := runtime.New(runtime.Options{StateDir: stateDir})
	if err != nil {
		return nil, err
	}
	return &glassboxRuntime{r: r}, nil
}

func (g *glassboxRuntime) Name() string { return "glassbox runtime" }

func (g *glassboxRuntime) Create(ctx context.Context, id, bundle string, stdio IO, tty bool) (*Process, error) {
	c, err := g.r.Create(ctx, id, runtime.CreateOptions{Bundle: bundle,
		IO: runtime.IO{Stdin: stdio.Stdin, Stdout: stdio.Stdout, Stderr: stdio.Stderr}})
	switch {
	case errors.Is(err, runtime.ErrNotFound):
		return nil, fmt.Errorf("%w: %w", err, ErrCommandNotFound)
	case errors.Is(err, runtime.ErrNotExecutable):
		return nil, fmt.Errorf("%w: %w", err, ErrCannotExecute)
	case err != nil:
		return nil, err
	}
	return &Process{Pid: c.Pid, Console: c.Console}, nil
}

func (g *glassboxRuntime) Start(id string) error { return g.r.Start(id) }

func (g *glassboxRuntime) Kill(id string, sig syscall.Signal, all bool) error {
	return g.r.Kill(id, sig, all)
}

func (g *glassboxRuntime) Delete(id string, force bool) error { return g.r.Delete(id, force) }
