package tui

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/glassbox/glassbox/engine"
)

// fakeBackend is an engine in memory, for unit tests only.
type fakeBackend struct {
	mu         sync.Mutex
	host       engine.HostInfo
	containers []engine.Container
	images     []engine.ImageSummary
	report     engine.LayerReport
	trees      map[int]*engine.FileNode
	logs       []engine.LogEntry
	steps      []engine.TraceStep
	calls      []string
	canExec    bool
	events     chan engine.Event
	cgroupRoot string // a v1 cgroupfs tree the test writes; "" gives paths that do not exist
	sizes      []engine.Size
	stdin      []byte
}

var t0 = time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)

func newFake(n int) *fakeBackend {
	f := &fakeBackend{
		host: engine.HostInfo{Kernel: "6.18.0-test", CgroupMode: "hybrid", Overlay: true, UserNS: true, Images: 1},
		images: []engine.ImageSummary{{ID: "sha256:" + strings.Repeat("ab", 32), RepoTags: []string{"127.0.0.1:5000/busybox:latest"},
			Size: 2_000_000, Layers: 2, Created: t0}},
		trees: map[int]*engine.FileNode{},
	}
	states := []string{"running", "exited", "created", "running"}
	for i := 0; i < n; i++ {
		st := states[i%len(states)]
		c := engine.Container{ID: fmt.Sprintf("%064x", i+1), Name: fmt.Sprintf("box-%03d", i), Image: "127.0.0.1:5000/busybox:latest",
			ImageID: f.images[0].ID, Command: "sh", State: st, Created: t0, StartedAt: t0}
		if st == "running" {
			c.Pid = 1000 + i
			f.host.Running++
		}
		if st == "exited" {
			c.ExitCode = 3
		}
		f.containers = append(f.containers, c)
	}
	f.containers = append(f.containers[:0:0], f.containers...)
	if n > 1 {
		f.containers[1].Name = "web"
	}
	f.host.Containers = n
	f.report = engine.LayerReport{Image: f.images[0], Efficiency: 0.98, WastedBytes: 4096, Layers: []engine.LayerInfo{
		{Index: 0, Size: 1_900_000, CreatedBy: "ADD rootfs.tar /", Added: 3, Digest: "sha256:aa"},
		{Index: 1, Size: 100_000, CreatedBy: "/bin/sh -c rm /etc/motd && echo hi > /etc/hello", Added: 1, Removed: 1, Digest: "sha256:bb"},
	}}
	dir := uint32(os.ModeDir | 0o755)
	f.trees[0] = &engine.FileNode{Name: "/", Mode: dir, Children: []*engine.FileNode{
		{Name: "bin", Mode: dir, Mark: "+", Children: []*engine.FileNode{
			{Name: "busybox", Mode: 0o755, Size: 1_900_000, Mark: "+"},
			{Name: "sh", Mode: uint32(os.ModeSymlink | 0o777), Link: "/bin/busybox", Mark: "+"},
		}},
		{Name: "etc", Mode: dir, Mark: "+", Children: []*engine.FileNode{{Name: "motd", Mode: 0o644, Size: 10, Mark: "+"}}},
	}}
	f.trees[1] = &engine.FileNode{Name: "/", Mode: dir, Children: []*engine.FileNode{
		{Name: "etc", Mode: dir, Mark: "~", Children: []*engine.FileNode{
			{Name: "hello", Mode: 0o644, Size: 3, Mark: "+"},
			{Name: "motd", Mode: 0o644, Mark: "-"},
		}},
	}}
	f.trees[-1] = &engine.FileNode{Name: "/", Mode: dir, Children: []*engine.FileNode{
		{Name: "bin", Mode: dir, Children: f.trees[0].Children[0].Children},
		{Name: "etc", Mode: dir, Children: []*engine.FileNode{{Name: "hello", Mode: 0o644, Size: 3}}},
	}}
	f.logs = []engine.LogEntry{
		{Stream: "stdout", Line: "starting web server\r\n", Time: t0},
		{Stream: "stderr", Line: "\x1b[31mwarning: no config\x1b[0m", Time: t0},
		{Stream: "stdout", Line: "listening on :8080", Time: t0},
	}
	f.steps = []engine.TraceStep{
		{Step: "clone", Detail: "CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWUTS", Start: 0, Duration: 2 * time.Millisecond, Pid: 10},
		{Step: "mount", Detail: "overlay on /rootfs", Start: 2 * time.Millisecond, Duration: 3 * time.Millisecond, Pid: 11},
		{Step: "pivot_root", Detail: "/rootfs", Start: 5 * time.Millisecond, Duration: 500 * time.Microsecond, Pid: 11},
		{Step: "execve", Detail: "/bin/sh", Start: 6 * time.Millisecond, Duration: 100 * time.Microsecond, Pid: 11},
	}
	return f
}

func (f *fakeBackend) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fakeBackend) called(prefix string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}

func (f *fakeBackend) find(id string) (engine.Container, error) {
	for _, c := range f.containers {
		if c.ID == id || c.Name == id {
			return c, nil
		}
	}
	return engine.Container{}, fmt.Errorf("no such container %s: %w", id, engine.ErrNotFound)
}

func (f *fakeBackend) Host(context.Context) (engine.HostInfo, error) { return f.host, nil }
func (f *fakeBackend) Images(context.Context) ([]engine.ImageSummary, error) {
	return f.images, nil
}
func (f *fakeBackend) Pull(ctx context.Context, ref string, o engine.PullOptions) (engine.ImageSummary, error) {
	f.record("pull " + ref)
	if o.Progress != nil {
		o.Progress(engine.PullProgress{Ref: ref, Phase: "resolving"})
		o.Progress(engine.PullProgress{Ref: ref, Layer: "sha256:1111111111111111", Phase: "downloading", Current: 50, Total: 100})
		o.Progress(engine.PullProgress{Ref: ref, Layer: "sha256:2222222222222222", Phase: "exists"})
		o.Progress(engine.PullProgress{Ref: ref, Layer: "sha256:1111111111111111", Phase: "done", Current: 100, Total: 100})
	}
	return f.images[0], nil
}
func (f *fakeBackend) Load(context.Context, string, func(engine.PullProgress)) ([]engine.ImageSummary, error) {
	f.record("load")
	return f.images, nil
}
func (f *fakeBackend) ImageInspect(_ context.Context, ref string) (engine.ImageDetail, error) {
	return engine.ImageDetail{ImageSummary: f.images[0], Config: []byte(`{"architecture":"amd64","os":"linux","config":{"Cmd":["sh"],"Env":["PATH=/bin"]}}`)}, nil
}
func (f *fakeBackend) Layers(context.Context, string) (engine.LayerReport, error) {
	return f.report, nil
}
func (f *fakeBackend) LayerTree(_ context.Context, _ string, layer int) (*engine.FileNode, error) {
	f.record(fmt.Sprintf("layertree %d", layer))
	t, ok := f.trees[layer]
	if !ok {
		return nil, fmt.Errorf("layer %d: %w", layer, engine.ErrNotFound)
	}
	return t, nil
}
func (f *fakeBackend) List(context.Context, bool) ([]engine.Container, error) {
	return f.containers, nil
}
func (f *fakeBackend) Inspect(_ context.Context, id string) (engine.ContainerDetail, error) {
	c, err := f.find(id)
	if err != nil {
		return engine.ContainerDetail{}, err
	}
	var d engine.ContainerDetail
	d.ID, d.Name, d.Path, d.Args, d.Image = c.ID, "/"+c.Name, "sh", []string{"-c", "sleep 1000"}, c.Image
	d.State.Status, d.State.Running, d.State.Pid, d.State.ExitCode = c.State, c.State == "running", c.Pid, c.ExitCode
	d.State.StartedAt = t0
	d.ShimPid = 900
	d.Config.MemoryBytes = 64 << 20
	d.CgroupPaths = map[string]string{"memory": "/sys/fs/cgroup/memory/glassbox/" + c.ID[:12]}
	if f.cgroupRoot != "" {
		d.CgroupPaths = map[string]string{}
		for _, h := range []string{"memory", "cpu,cpuacct", "pids"} {
			d.CgroupPaths[h] = filepath.Join(f.cgroupRoot, h, c.ID[:12])
		}
	}
	d.GraphDriver.Name = "overlay"
	d.GraphDriver.Data.UpperDir = "/var/lib/glassbox/containers/" + c.ID[:12] + "/upper"
	d.NetworkSettings.Mode = "none"
	return d, nil
}
func (f *fakeBackend) Create(_ context.Context, o engine.CreateOptions) (engine.Container, error) {
	f.record("create " + o.Image + " " + strings.Join(o.Cmd, " "))
	return engine.Container{ID: strings.Repeat("f", 64), Name: "new"}, nil
}
func (f *fakeBackend) Start(_ context.Context, id string) error { f.record("start " + id); return nil }
func (f *fakeBackend) Stop(_ context.Context, id string, _ time.Duration) error {
	f.record("stop " + id)
	return nil
}
func (f *fakeBackend) Kill(_ context.Context, id string, sig syscall.Signal) error {
	f.record(fmt.Sprintf("kill %s %d", id, sig))
	return nil
}
func (f *fakeBackend) Remove(_ context.Context, id string, force bool) error {
	f.record("remove " + id)
	return nil
}
func (f *fakeBackend) Logs(_ context.Context, id string, _ engine.LogOptions) (<-chan engine.LogEntry, error) {
	ch := make(chan engine.LogEntry, len(f.logs))
	for _, e := range f.logs {
		ch <- e
	}
	close(ch)
	return ch, nil
}
func (f *fakeBackend) Trace(context.Context, string) ([]engine.TraceStep, error) { return f.steps, nil }
func (f *fakeBackend) Diff(context.Context, string) ([]engine.Change, error) {
	return []engine.Change{{Kind: "A", Path: "/root/.ash_history"}, {Kind: "C", Path: "/etc"}, {Kind: "D", Path: "/etc/motd"}}, nil
}
func (f *fakeBackend) Exec(ctx context.Context, id string, opts engine.ExecOptions) (engine.ExitStatus, error) {
	f.mu.Lock()
	f.calls = append(f.calls, "exec "+id[:12]+" "+strings.Join(opts.Cmd, " "))
	can := f.canExec
	f.mu.Unlock()
	if !can {
		// What the engine says until engine/runtime/nsenter lands.
		return engine.ExitStatus{}, fmt.Errorf("exec: not implemented yet")
	}
	return f.terminal(ctx, "# ", opts.AttachOptions)
}

func (f *fakeBackend) Events(ctx context.Context) (<-chan engine.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.events == nil {
		f.events = make(chan engine.Event, 16)
	}
	return f.events, nil
}

func (f *fakeBackend) Attach(ctx context.Context, id string, opts engine.AttachOptions) (engine.ExitStatus, error) {
	f.mu.Lock()
	f.calls = append(f.calls, "attach "+id[:12])
	f.mu.Unlock()
	return f.terminal(ctx, "console$ ", opts)
}

// terminal is a tiny line-mode shell on a pretend pty: it echoes what it reads, answers
// "echo WORDS" with WORDS in red, "mouse" by asking for mouse reports, "exit N" ends with N,
// and records each size it is given.
func (f *fakeBackend) terminal(ctx context.Context, prompt string, opts engine.AttachOptions) (engine.ExitStatus, error) {
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case sz, ok := <-opts.Resize:
				if !ok {
					return
				}
				f.mu.Lock()
				f.sizes = append(f.sizes, sz)
				f.mu.Unlock()
			case <-done:
				return
			}
		}
	}()
	io.WriteString(opts.Stdout, prompt)
	lines := make(chan string)
	go func() {
		defer close(lines)
		buf := make([]byte, 256)
		var line []byte
		for {
			n, err := opts.Stdin.Read(buf)
			for _, b := range buf[:n] {
				f.mu.Lock()
				f.stdin = append(f.stdin, b)
				f.mu.Unlock()
				if b == '\r' {
					select {
					case lines <- string(line):
					case <-done:
						return
					}
					line = nil
					continue
				}
				line = append(line, b)
				io.WriteString(opts.Stdout, string(b))
			}
			if err != nil {
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return engine.ExitStatus{}, ctx.Err()
		case l, ok := <-lines:
			if !ok {
				return engine.ExitStatus{}, nil
			}
			io.WriteString(opts.Stdout, "\r\n")
			if l == "mouse" {
				// What vi or top send to get mouse reports: button events, SGR encoding.
				io.WriteString(opts.Stdout, "\x1b[?1000h\x1b[?1006h")
			}
			if w, ok := strings.CutPrefix(l, "echo "); ok {
				io.WriteString(opts.Stdout, "\x1b[31m"+w+"\x1b[0m\r\n")
			}
			if c, ok := strings.CutPrefix(l, "exit "); ok {
				var code int
				fmt.Sscan(c, &code)
				return engine.ExitStatus{Code: code}, nil
			}
			io.WriteString(opts.Stdout, prompt)
		}
	}
}

// harness drives a Model as the Bubble Tea runtime would, synchronously: each command runs
// and its message is fed back, except ticks and commands that wait (cursor blinks, streams).
type harness struct {
	t *testing.T
	m *Model
	f *fakeBackend
	// pending are commands still waiting (streams): settle delivers what they return.
	pending []chan tea.Msg
}

func newHarness(t *testing.T, f *fakeBackend, opts Options, w, h int) *harness {
	t.Helper()
	m := New(context.Background(), f, opts)
	hs := &harness{t: t, m: m, f: f}
	hs.send(tea.WindowSizeMsg{Width: w, Height: h})
	hs.run(m.Init())
	return hs
}

func (h *harness) send(msg tea.Msg) {
	_, cmd := h.m.Update(msg)
	h.run(cmd)
}

// run executes cmd and feeds back what it returns, recursively.
func (h *harness) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	done := make(chan tea.Msg, 1)
	go func() { done <- cmd() }()
	var msg tea.Msg
	select {
	case msg = <-done:
	case <-time.After(100 * time.Millisecond):
		// A tick, a blink or a stream: not part of what a test drives, unless settle is asked
		// to wait for it.
		h.pending = append(h.pending, done)
		return
	}
	h.deliver(msg)
}

// settle delivers the messages of waiting commands (a shell's output) until cond holds.
func (h *harness) settle(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("never saw %s:\n%s", what, ansi.Strip(h.screen()))
		}
		pending := h.pending
		h.pending = nil
		for _, done := range pending {
			select {
			case msg := <-done:
				if !isTick(msg) {
					h.deliver(msg)
				}
			default:
				h.pending = append(h.pending, done)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// isTick is whether msg came from a timer: tests drive time themselves.
func isTick(msg tea.Msg) bool {
	switch msg := msg.(type) {
	case containersMsg:
		return msg.tick
	case statsMsg:
		return msg.tick
	}
	return false
}

func (h *harness) deliver(msg tea.Msg) {
	if isTick(msg) {
		return
	}
	switch msg := msg.(type) {
	case nil:
	case tea.BatchMsg:
		for _, c := range msg {
			h.run(c)
		}
	default:
		h.send(msg)
	}
}

// keys presses keys, one tea.KeyPressMsg each: "tab", "enter", "ctrl+c" or single runes.
func (h *harness) keys(keys ...string) {
	for _, k := range keys {
		h.send(keyMsg(k))
	}
}

// typeText presses one key per rune of s.
func (h *harness) typeText(s string) {
	for _, r := range s {
		h.send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

func keyMsg(k string) tea.KeyPressMsg {
	switch k {
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	case "left":
		return tea.KeyPressMsg{Code: tea.KeyLeft}
	case "ctrl+c", "ctrl+p", "ctrl+q", "ctrl+r":
		return tea.KeyPressMsg{Code: rune(k[5]), Mod: tea.ModCtrl}
	}
	r := []rune(k)[0]
	return tea.KeyPressMsg{Code: r, Text: k}
}

func (h *harness) screen() string { return h.m.View().Content }

func sizeMsg(w, h int) tea.WindowSizeMsg { return tea.WindowSizeMsg{Width: w, Height: h} }
