package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/runtime/nsenter"
	"github.com/glassbox/glassbox/engine/shim"
	"github.com/glassbox/glassbox/engine/spec"
	"github.com/glassbox/glassbox/engine/state"
)

// Exec runs a new process in a running container, nsenter-style: it enters every namespace of
// the container's init that differs from the caller's, and its cgroups, and runs with the
// process settings of the container's config.json (user, capabilities, no_new_privs, seccomp,
// rlimits, environment, working directory) unless opts override them. It works from the
// engine's record (the init's PID) and the bundle, so it does not matter which runtime
// started the container.
//
// With opts.Tty the process gets a new pseudo-terminal from the container's /dev/ptmx; Exec
// copies between its master and opts.Stdin/Stdout and resizes it from opts.Resize (the first
// value sets the size it starts with), as Attach does with the console. Without, it gets
// pipes (stdin only with opts.Interactive). It blocks until the process ends and returns its
// exit status, or, with opts.Detach, returns once the process runs (execDetached). A program
// that is missing gives Code 127, one that cannot be executed 126, both with Error saying why.
// When ctx ends the process is killed.
func (e *Engine) Exec(ctx context.Context, ref string, opts ExecOptions) (ExitStatus, error) {
	if len(opts.Cmd) == 0 {
		return ExitStatus{}, errors.New("exec: no command given")
	}
	if _, err := ParseDetachKeys(opts.DetachKeys); err != nil {
		return ExitStatus{}, err
	}
	if opts.Detach {
		return e.execDetached(ref, opts)
	}
	return e.exec(ctx, ref, opts, nil)
}

// exec runs opts.Cmd attached to opts' streams; started, when set, is called once the command
// runs (not when it could not start).
func (e *Engine) exec(ctx context.Context, ref string, opts ExecOptions, started func()) (ExitStatus, error) {
	p, target, ev, err := e.prepareExec(ref, opts)
	if err != nil {
		return ExitStatus{}, err
	}
	defer target.Close()
	var initial *Size
	if p.Tty && opts.Resize != nil {
		select {
		case sz, ok := <-opts.Resize:
			if ok {
				initial = &sz
				p.ConsoleSize = nsenter.Size{Rows: sz.Rows, Cols: sz.Cols}
			}
		default:
		}
	}
	running, err := target.Start(p)
	if f, ok := p.Stdin.(*os.File); ok && p.Stdin != opts.Stdin {
		f.Close() // pipedReader's read end: the program has its own now
	}
	if err != nil {
		var ee *nsenter.ExecError
		if errors.As(err, &ee) && (ee.Code == 126 || ee.Code == 127) {
			ev.createdAndStarted()
			ev.died(ee.Code)
			return ExitStatus{Code: ee.Code, Error: ee.Msg}, nil
		}
		ev.created()
		return ExitStatus{}, fmt.Errorf("exec in %s: %w", target, err)
	}
	target.Close() // entered: nothing here holds the container's namespaces now
	ev.createdAndStarted()
	e.log.Debug("exec", "container", ref, "pid", running.Pid, "cmd", opts.Cmd, "execID", ev.execID)
	if started != nil {
		started()
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-ctx.Done():
			running.Signal(syscall.SIGKILL)
		case <-stop:
		}
	}()
	var code int
	if p.Tty {
		code, err = relayConsole(running, opts, initial, stop)
		if errors.Is(err, ErrDetached) {
			if kerr := keepDetached(ev, running.Pid, running.Console); kerr != nil {
				e.log.Warn("exec: detached, but its terminal goes with this process", "err", kerr)
			}
			running.Console.Close()
			return ExitStatus{}, ErrDetached
		}
	} else {
		code, err = running.Wait()
	}
	ev.died(code)
	if ctx.Err() != nil {
		return ExitStatus{}, ctx.Err()
	}
	if err != nil {
		return ExitStatus{Code: code}, fmt.Errorf("exec in %s: %w", ref, err)
	}
	return ExitStatus{Code: code}, nil
}

// prepareExec finds the container's init and opens what entering it takes, builds the
// process from the container's config.json and opts, and names the exec for its events.
func (e *Engine) prepareExec(ref string, opts ExecOptions) (nsenter.Process, *nsenter.Target, *execEvents, error) {
	var p nsenter.Process
	st, id, err := e.lookup(ref)
	if err != nil {
		return p, nil, nil, err
	}
	rec, err := e.refresh(st, id)
	if err != nil {
		return p, nil, nil, err
	}
	notRunning := func() error {
		return wrapKind(fmt.Errorf("container %s is not running", strings.TrimPrefix(rec.Name, "/")), ErrConflict)
	}
	if rec.Status != state.Running || rec.Pid <= 0 {
		return p, nil, nil, notRunning()
	}
	settings, err := loadExecSettings(st.Dir(id), filepath.Join(st.Bundle(id), "config.json"))
	if err != nil {
		return p, nil, nil, err
	}
	initStart := shim.StartTime(rec.Pid)
	target, err := nsenter.OpenTarget(rec.Pid, nsenter.TargetOptions{Root: true, Cgroups: true, CgroupDirs: rec.CgroupPaths})
	if errors.Is(err, nsenter.ErrNoProcess) {
		return p, nil, nil, notRunning()
	}
	if err != nil {
		return p, nil, nil, fmt.Errorf("exec: enter container %s: %w", rec.Name, err)
	}
	p, err = execProcess(settings.process, rec.Pid, opts)
	p.Security.SeccompProgram = settings.seccomp
	if err != nil {
		target.Close()
		return p, nil, nil, err
	}
	if opts.Privileged {
		if err := markPrivileged(st, id); err != nil {
			target.Close()
			return p, nil, nil, err
		}
	}
	writeFastExec(st, rec, target, settings, initStart)
	return p, target, newExecEvents(st.EventsPath(), rec.ID, rec.Name, rec.Image, opts.Cmd), nil
}

// execProcess is the process to run: the container's process settings with opts over them.
// A user (-u) is looked up in the container's own /etc/passwd and /etc/group, through the
// init's root (openat2 RESOLVE_IN_ROOT: the image's links cannot lead out).
func execProcess(proc *specs.Process, pid int, opts ExecOptions) (nsenter.Process, error) {
	user := proc.User
	env := append([]string(nil), proc.Env...)
	if opts.User != "" {
		u, err := spec.LookupUser(fmt.Sprintf("/proc/%d/root", pid), opts.User)
		if err != nil {
			return nsenter.Process{}, fmt.Errorf("exec: %w", err)
		}
		user = specs.User{UID: u.UID, GID: u.GID, AdditionalGids: u.AdditionalGids}
		env = setEnv(env, "HOME="+u.Home)
	}
	for _, kv := range opts.Env {
		if !strings.Contains(kv, "=") {
			kv += "=" + os.Getenv(kv) // docker's -e NAME passes the caller's value
		}
		env = setEnv(env, kv)
	}
	// The seccomp filter is the caller's to add, compiled (loadExecSettings).
	sec := nsenter.Security{User: &user, Capabilities: proc.Capabilities, NoNewPrivileges: proc.NoNewPrivileges, Rlimits: proc.Rlimits}
	if opts.Privileged {
		all := allCapabilities()
		sec.Capabilities = &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all}
	}
	if sec.Capabilities == nil {
		sec.Capabilities = &specs.LinuxCapabilities{} // a spec without capabilities grants none
	}
	cwd := opts.WorkingDir
	if cwd == "" {
		cwd = proc.Cwd
	}
	if cwd == "" {
		cwd = "/"
	}
	p := nsenter.Process{Args: opts.Cmd, Env: env, Cwd: cwd, Tty: opts.Tty, Security: sec}
	if !opts.Tty {
		if opts.Interactive && opts.Stdin != nil {
			p.Stdin = pipedReader(opts.Stdin)
		}
		p.Stdout, p.Stderr = opts.Stdout, opts.Stderr
		if p.Stderr == nil {
			p.Stderr = opts.Stdout
		}
		if p.Stdout != nil {
			p.Stdout = pipedWriter(p.Stdout)
		}
		if p.Stderr != nil {
			p.Stderr = pipedWriter(p.Stderr)
		}
	}
	return p, nil
}

// hostFile says whether v is a descriptor that must not reach the program itself. An
// *os.File would reach it as the descriptor: one of a regular file (`glassbox exec c cmd >
// out`) lets root in the container reopen it through /proc/self/fd/N with a mode of its own
// choosing, writing a host file it was only handed to read, or truncating it (the
// CVE-2024-21626 family), and the caller's terminal lets it push keystrokes into the host
// shell with TIOCSTI. Such a stream goes through a pipe, as docker's shim always does; only
// pipes, sockets and /dev/null pass as they are (reopening them reaches nothing more).
func hostFile(v any) bool {
	file, ok := v.(*os.File)
	if !ok {
		return false
	}
	fi, err := file.Stat()
	if err != nil {
		return true
	}
	switch m := fi.Mode(); {
	case m&(os.ModeNamedPipe|os.ModeSocket) != 0:
		return false
	case m&os.ModeCharDevice != 0:
		st, ok := fi.Sys().(*syscall.Stat_t)
		return !ok || st.Rdev != unix.Mkdev(1, 3) // /dev/null, devices(7)
	}
	return true
}

// pipedReader gives the program a pipe that a goroutine fills from r when r is a host file.
// The goroutine is not waited for: it may sit in a read of the caller's terminal after the
// program has ended (os/exec's own copier would hold Wait until the next keystroke); it ends
// at r's EOF or the first write after the program has gone.
func pipedReader(r io.Reader) io.Reader {
	if !hostFile(r) {
		return r
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return struct{ io.Reader }{r} // os/exec makes the pipe and waits for its copier
	}
	go func() {
		io.Copy(pw, r)
		pw.Close()
	}()
	return pr
}

// pipedWriter gives the program a pipe that os/exec drains into w when w is a host file.
func pipedWriter(w io.Writer) io.Writer {
	if hostFile(w) {
		return struct{ io.Writer }{w}
	}
	return w
}

// setEnv sets kv ("K=V") in env, replacing an earlier value of K.
func setEnv(env []string, kv string) []string {
	k, _, _ := strings.Cut(kv, "=")
	for i, old := range env {
		if strings.HasPrefix(old, k+"=") {
			env[i] = kv
			return env
		}
	}
	return append(env, kv)
}

// allCapabilities names every capability this kernel has and this process holds (the helper
// that applies them is started with this process's credentials, and capset(2) cannot grant
// more than it permits), for --privileged.
func allCapabilities() []string {
	caps, err := capability.ListSupported()
	if err != nil {
		caps = capability.ListKnown()
	}
	own, err := capability.NewPid2(0)
	if err == nil {
		err = own.Load()
	}
	names := make([]string, 0, len(caps))
	for _, c := range caps {
		if err == nil && !own.Get(capability.PERMITTED, c) {
			continue
		}
		names = append(names, "CAP_"+strings.ToUpper(c.String()))
	}
	return names
}

// drainGrace bounds the read of a terminal's last output after the process has ended.
const drainGrace = 200 * time.Millisecond

// relayConsole copies between the caller's streams and the process's terminal until the
// process ends and its output has been read, or the caller detaches (the detach keys on an
// interactive Stdin): then it returns ErrDetached at once, leaving the process running and
// r.Console open for the caller to hand on, and reaps the process when it ends.
func relayConsole(r *nsenter.Running, opts ExecOptions, initial *Size, stop <-chan struct{}) (int, error) {
	if opts.Resize != nil {
		go func() {
			for {
				select {
				case sz, ok := <-opts.Resize:
					if !ok {
						return
					}
					r.Resize(nsenter.Size{Rows: sz.Rows, Cols: sz.Cols})
				case <-stop:
					return
				}
			}
		}()
	}
	detached := make(chan struct{})
	if opts.Interactive && opts.Stdin != nil {
		// Not waited for: it may sit in a read of the caller's stdin after the process ends.
		keys, _ := ParseDetachKeys(opts.DetachKeys) // checked by Exec
		go copyInput(r.Console, opts.Stdin, keys, detached)
	}
	drained := make(chan struct{})
	go func() {
		out := opts.Stdout
		if out == nil {
			out = io.Discard
		}
		io.Copy(out, r.Console) // ends with EIO once no process holds the terminal
		close(drained)
	}()
	type exit struct {
		code int
		err  error
	}
	waited := make(chan exit, 1)
	go func() {
		code, err := r.Wait()
		waited <- exit{code, err}
	}()
	select {
	case x := <-waited:
		// A background process of the program may still hold the terminal: read what is
		// there, then stop.
		r.Console.SetReadDeadline(time.Now().Add(drainGrace))
		<-drained
		r.Console.Close()
		return x.code, x.err
	case <-detached:
		r.Console.SetReadDeadline(time.Now()) // stop reading: the terminal's output is the keeper's now
		<-drained
		return -1, ErrDetached
	}
}
