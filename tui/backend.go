package tui

import (
	"context"
	"syscall"
	"time"

	"github.com/glassbox/glassbox/engine"
)

// Backend is the part of the engine's API (engine/engine.go) the workbench uses, with the
// engine's own signatures, so *engine.Engine satisfies it. Unit tests drive the workbench with
// a fake; the binary passes the real engine.
type Backend interface {
	Host(ctx context.Context) (engine.HostInfo, error)

	Images(ctx context.Context) ([]engine.ImageSummary, error)
	Pull(ctx context.Context, ref string, opts engine.PullOptions) (engine.ImageSummary, error)
	Load(ctx context.Context, path string, progress func(engine.PullProgress)) ([]engine.ImageSummary, error)
	ImageInspect(ctx context.Context, ref string) (engine.ImageDetail, error)
	Layers(ctx context.Context, ref string) (engine.LayerReport, error)
	LayerTree(ctx context.Context, ref string, layer int) (*engine.FileNode, error)

	List(ctx context.Context, all bool) ([]engine.Container, error)
	Inspect(ctx context.Context, id string) (engine.ContainerDetail, error)
	Create(ctx context.Context, opts engine.CreateOptions) (engine.Container, error)
	Start(ctx context.Context, id string) error
	Stop(ctx context.Context, id string, timeout time.Duration) error
	Kill(ctx context.Context, id string, sig syscall.Signal) error
	Remove(ctx context.Context, id string, force bool) error
	Logs(ctx context.Context, id string, opts engine.LogOptions) (<-chan engine.LogEntry, error)
	Trace(ctx context.Context, id string) ([]engine.TraceStep, error)
	Diff(ctx context.Context, id string) ([]engine.Change, error)
	Exec(ctx context.Context, id string, opts engine.ExecOptions) (engine.ExitStatus, error)
	Attach(ctx context.Context, id string, opts engine.AttachOptions) (engine.ExitStatus, error)
	Events(ctx context.Context) (<-chan engine.Event, error)
}
