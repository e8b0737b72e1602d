package shim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/runtime"
)

// Runtime is what the shim needs of an OCI runtime. glassbox's own (engine/runtime, which
// runs the init as the shim's child in-process) plugs in here once it lands; until then the
// shim drives runc, the reference runtime, over its CLI. Either way the init ends up the
// shim's child (runc's init is reparented to the shim, a child subreaper) and the shim reaps it.
type Runtime interface {
	Create(ctx context.Context, id, bundle string, stdio IO, tty bool) (*Process, error)
	Start(id string) error
	Kill(id string, sig syscall.Signal, all bool) error
	Delete(id string, force bool) error
	Name() string
}

// IO is the init's stdio when it has no terminal.
type IO struct{ Stdin, Stdout, Stderr *os.File }

// Process is a created container's init.
type Process struct {
	Pid     int
	Console *os.File // the pty master with a terminal
}

// Exec errors of the user's program, found at create time; the engine maps them to 127/126.
var (
	ErrCommandNotFound = errors.New("command not found")
	ErrCannotExecute   = errors.New("permission denied")
)

// runc drives the runc binary: `runc create` then `runc start`, as containerd's shim does.
type runc struct {
	binary string
	root   string // runc --root
}

// NewRunc finds runc on PATH; root is its state directory.
func NewRunc(root string) (Runtime, error) {
	bin, err := exec.LookPath("runc")
	if err != nil {
		return nil, fmt.Errorf("find the OCI runtime: %w", err)
	}
	return &runc{binary: bin, root: root}, nil
}

func (r *runc) Name() string { return "runc" }

func (r *runc) cmd(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, r.binary, append([]string{"--root", r.root}, args...)...)
}

func (r *runc) Create(ctx context.Context, id, bundle string, stdio IO, tty bool) (*Process, error) {
	if err := relativeCgroupUnderGlassbox(bundle); err != nil {
		return nil, err
	}
	pidFile := filepath.Join(bundle, "init.pid")
	args := []string{"create", "--bundle", bundle, "--pid-file", pidFile}
	var consoleL *net.UnixListener
	if tty {
		tmp, err := os.MkdirTemp("", "glassbox-console-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		sock := filepath.Join(tmp, "sock") // short: runc connects to it, sun_path is 108 bytes
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
		if err != nil {
			return nil, fmt.Errorf("listen on console socket %s: %w", sock, err)
		}
		defer l.Close()
		consoleL = l
		args = append(args, "--console-socket", sock)
	}
	cmd := r.cmd(ctx, append(args, id)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if !tty {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio.Stdin, stdio.Stdout, stdio.Stderr
		cmd.Stderr = &stderr
		// runc hands its own fds 0-2 to the init when detached: give it the container's.
		cmd.ExtraFiles = nil
		if stdio.Stderr != nil {
			cmd.Stderr = stdio.Stderr
		}
	}
	var console *os.File
	consoleErr := make(chan error, 1)
	if consoleL != nil {
		go func() {
			f, err := recvConsole(consoleL)
			console = f
			consoleErr <- err
		}()
	}
	logPath := filepath.Join(bundle, "runc.log")
	cmd.Args = append(cmd.Args[:1], append([]string{"--log", logPath, "--log-format", "json"}, cmd.Args[1:]...)...)
	if err := cmd.Run(); err != nil {
		if consoleL != nil {
			consoleL.Close()
		}
		return nil, runcError("runc create", err, logPath, stderr.String())
	}
	if consoleL != nil {
		if err := <-consoleErr; err != nil {
			return nil, err
		}
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return nil, fmt.Errorf("read runc's pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, fmt.Errorf("parse runc's pid file %q: %w", data, err)
	}
	return &Process{Pid: pid, Console: console}, nil
}

// relativeCgroupUnderGlassbox rewrites a relative cgroupsPath ("<id>") to "glassbox/<id>":
// package cgroups nests a relative path under a glassbox parent inside the caller's own
// cgroup; runc nests a relative path directly under the caller's cgroup. A spec that asks
// for glassbox's reaper (--init) is refused: runc cannot give it one.
func relativeCgroupUnderGlassbox(bundle string) error {
	p := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("parse %s: %w", p, err)
	}
	if v, ok := s.Annotations[runtime.InitAnnotation]; ok {
		// runc has no reaper: started without it, the program would be PID 1 unseen.
		return fmt.Errorf("%s: annotation %s=%s (--init): the reaper is glassbox's own runtime's, runc has none", p, runtime.InitAnnotation, v)
	}
	if s.Linux == nil || s.Linux.CgroupsPath == "" || filepath.IsAbs(s.Linux.CgroupsPath) ||
		strings.HasPrefix(s.Linux.CgroupsPath, "glassbox/") {
		return nil
	}
	s.Linux.CgroupsPath = "glassbox/" + s.Linux.CgroupsPath
	out, err := json.Marshal(&s)
	if err != nil {
		return err
	}
	return os.WriteFile(p, out, 0o600)
}

// runcError turns runc's failure into one line, and marks a missing or non-executable program
// so the engine can exit 127 or 126 as docker does.
func runcError(step string, err error, logPath, stderr string) error {
	msg := strings.TrimSpace(stderr)
	if data, rerr := os.ReadFile(logPath); rerr == nil {
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		for i := len(lines) - 1; i >= 0; i-- {
			var l struct{ Level, Msg string }
			if json.Unmarshal([]byte(lines[i]), &l) == nil && l.Level == "error" {
				msg = l.Msg
				break
			}
		}
	}
	if msg == "" {
		msg = err.Error()
	}
	msg = strings.TrimPrefix(msg, step+" failed: ")
	switch {
	case strings.Contains(msg, "executable file not found") || strings.Contains(msg, "no such file or directory"):
		return fmt.Errorf("%s: %s: %w", step, msg, ErrCommandNotFound)
	case strings.Contains(msg, "permission denied") && strings.Contains(msg, "exec"):
		return fmt.Errorf("%s: %s: %w", step, msg, ErrCannotExecute)
	}
	return fmt.Errorf("%s: %s", step, msg)
}

func recvConsole(l *net.UnixListener) (*os.File, error) {
	c, err := l.AcceptUnix()
	if err != nil {
		return nil, fmt.Errorf("accept on console socket: %w", err)
	}
	defer c.Close()
	oob := make([]byte, unix.CmsgSpace(4))
	buf := make([]byte, 4096)
	_, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, fmt.Errorf("receive the pty master: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) == 0 {
		return nil, fmt.Errorf("receive the pty master: no control message")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) == 0 {
		return nil, fmt.Errorf("receive the pty master: no fd")
	}
	return os.NewFile(uintptr(fds[0]), "ptmx"), nil
}

func (r *runc) Start(id string) error {
	out, err := r.cmd(context.Background(), "start", id).CombinedOutput()
	if err != nil {
		return fmt.Errorf("runc start: %s", strings.TrimSpace(string(out)))
	}
	return nil
}

func (r *runc) Kill(id string, sig syscall.Signal, all bool) error {
	args := []string{"kill"}
	if all {
		args = append(args, "--all")
	}
	out, err := r.cmd(context.Background(), append(args, id, strconv.Itoa(int(sig)))...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("runc kill: %s", strings.TrimSpace(string(out)))
	}
	return nil
}

func (r *runc) Delete(id string, force bool) error {
	args := []string{"delete"}
	if force {
		args = append(args, "--force")
	}
	out, err := r.cmd(context.Background(), append(args, id)...).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "does not exist") {
		return fmt.Errorf("runc delete: %s", strings.TrimSpace(string(out)))
	}
	return nil
}
