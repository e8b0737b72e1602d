package shim

import (
	"context"
	"errors"
	"strings"
	"syscall"

	"github.com/glassbox/glassbox/engine/runtime"
	"github.com/glassbox/glassbox/engine/trace"
)

// glassboxRuntime is glassbox's own runtime (engine/runtime) in-process: the container's init
// is the shim's own child, with no runc process in between.
type glassboxRuntime struct {
	r        *runtime.Runtime
	trace    *trace.Recorder
	template bool
}

// KeepTemplate has Create keep a whole template of its create (runtime/runcache_tmpl.go).
func (g *glassboxRuntime) KeepTemplate(keep bool) { g.template = keep }

// SetTrace makes Create record the runtime's kernel steps into rec.
func (g *glassboxRuntime) SetTrace(rec *trace.Recorder) { g.trace = rec }

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
		IO: runtime.IO{Stdin: stdio.Stdin, Stdout: stdio.Stdout, Stderr: stdio.Stderr}, Trace: g.trace,
		// A whole template for the next container of the same config (nsenter's C run).
		Template: g.template && !tty})
	switch {
	case errors.Is(err, runtime.ErrNotFound):
		return nil, &execError{err: err, kind: ErrCommandNotFound, said: runtime.ErrNotFound}
	case errors.Is(err, runtime.ErrNotExecutable):
		return nil, &execError{err: err, kind: ErrCannotExecute, said: runtime.ErrNotExecutable}
	case err != nil:
		return nil, err
	}
	return &Process{Pid: c.Pid, Console: c.Console}, nil
}

// Exists says whether the runtime holds a state for id, whole or cut off.
func (g *glassboxRuntime) Exists(id string) bool { return g.r.Exists(id) }

func (g *glassboxRuntime) Start(id string) error { return g.r.Start(id) }

func (g *glassboxRuntime) Kill(id string, sig syscall.Signal, all bool) error {
	return g.r.Kill(id, sig, all)
}

// Delete of a container the runtime no longer knows succeeds, as the runc adapter's does: the
// shim deletes once its init has exited, and rm or gc may come after.
func (g *glassboxRuntime) Delete(id string, force bool) error {
	if err := g.r.Delete(id, force); err != nil && !errors.Is(err, runtime.ErrNoSuchContainer) {
		return err
	}
	return nil
}

// execError is the runtime's failure to execute the user's program, which is also the shim's
// kind (127 or 126). Its message is the runtime's without the runtime's kind at the end, which
// says again what the message has said: `init: exec "nosuch": executable file not found in
// $PATH`, as docker's, not that followed by "executable file not found: command not found".
type execError struct {
	err, kind, said error
}

func (e *execError) Error() string {
	return strings.TrimSuffix(e.err.Error(), ": "+e.said.Error())
}

func (e *execError) Unwrap() []error { return []error{e.err, e.kind} }
