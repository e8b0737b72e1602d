package main

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine"
)

// errNoContainers is what the workbench's container actions report while the engine has no
// container verbs yet.
var errNoContainers = errors.New("this build's engine has no container verbs yet")

// imagesOnlyBackend carries an engine that has the image verbs only.
type imagesOnlyBackend struct{ e *engine.Engine }

type imageVerbs interface {
	Images(ctx context.Context) ([]engine.ImageSummary, error)
	Pull(ctx context.Context, ref string, opts engine.PullOptions) (engine.ImageSummary, error)
	Load(ctx context.Context, path string, progress func(engine.PullProgress)) ([]engine.ImageSummary, error)
	ImageInspect(ctx context.Context, ref string) (engine.ImageDetail, error)
	Layers(ctx context.Context, ref string) (engine.LayerReport, error)
	LayerTree(ctx context.Context, ref string, layer int) (*engine.FileNode, error)
}

var _ imageVerbs = (*engine.Engine)(nil)

func (b imagesOnlyBackend) Images(ctx context.Context) ([]engine.ImageSummary, error) {
	return b.e.Images(ctx)
}
func (b imagesOnlyBackend) Pull(ctx context.Context, ref string, o engine.PullOptions) (engine.ImageSummary, error) {
	return b.e.Pull(ctx, ref, o)
}
func (b imagesOnlyBackend) Load(ctx context.Context, p string, f func(engine.PullProgress)) ([]engine.ImageSummary, error) {
	return b.e.Load(ctx, p, f)
}
func (b imagesOnlyBackend) ImageInspect(ctx context.Context, ref string) (engine.ImageDetail, error) {
	return b.e.ImageInspect(ctx, ref)
}
func (b imagesOnlyBackend) Layers(ctx context.Context, ref string) (engine.LayerReport, error) {
	return b.e.Layers(ctx, ref)
}
func (b imagesOnlyBackend) LayerTree(ctx context.Context, ref string, layer int) (*engine.FileNode, error) {
	return b.e.LayerTree(ctx, ref, layer)
}

// Host reads the facts the header shows from the kernel directly.
func (b imagesOnlyBackend) Host(ctx context.Context) (engine.HostInfo, error) {
	h := engine.HostInfo{Root: b.e.Root()}
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		h.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	h.CgroupMode = "v1"
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		h.CgroupMode = "v2"
	} else if unix.Statfs("/sys/fs/cgroup/unified", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		h.CgroupMode = "hybrid"
	}
	if fs, err := os.ReadFile("/proc/filesystems"); err == nil {
		h.Overlay = strings.Contains(string(fs), "\toverlay\n")
	}
	if n, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil {
		h.UserNS = strings.TrimSpace(string(n)) != "0"
	}
	if ims, err := b.e.Images(ctx); err == nil {
		h.Images = len(ims)
	}
	return h, nil
}

func (imagesOnlyBackend) List(context.Context, bool) ([]engine.Container, error) { return nil, nil }
func (imagesOnlyBackend) Inspect(context.Context, string) (engine.ContainerDetail, error) {
	return engine.ContainerDetail{}, errNoContainers
}
func (imagesOnlyBackend) Create(context.Context, engine.CreateOptions) (engine.Container, error) {
	return engine.Container{}, errNoContainers
}
func (imagesOnlyBackend) Start(context.Context, string) error { return errNoContainers }
func (imagesOnlyBackend) Stop(context.Context, string, time.Duration) error {
	return errNoContainers
}
func (imagesOnlyBackend) Kill(context.Context, string, syscall.Signal) error { return errNoContainers }
func (imagesOnlyBackend) Remove(context.Context, string, bool) error         { return errNoContainers }
func (imagesOnlyBackend) Logs(context.Context, string, engine.LogOptions) (<-chan engine.LogEntry, error) {
	return nil, errNoContainers
}
func (imagesOnlyBackend) Trace(context.Context, string) ([]engine.TraceStep, error) {
	return nil, errNoContainers
}
func (imagesOnlyBackend) Diff(context.Context, string) ([]engine.Change, error) {
	return nil, errNoContainers
}
func (imagesOnlyBackend) Exec(context.Context, string, engine.ExecOptions) (engine.ExitStatus, error) {
	return engine.ExitStatus{}, errNoContainers
}
func (imagesOnlyBackend) Attach(context.Context, string, engine.AttachOptions) (engine.ExitStatus, error) {
	return engine.ExitStatus{}, errNoContainers
}
