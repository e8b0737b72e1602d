package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
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

	"github.com/glassbox/glassbox/engine/runtime/nsenter"
	"github.com/glassbox/glassbox/engine/runtime/seccomp"
	"github.com/glassbox/glassbox/engine/spec"
	"github.com/glassbox/glassbox/engine/state"
	"github.com/glassbox/glassbox/internal/atomicfile"
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
// exit status, or returns at once with opts.Detach. A program that is missing gives Code 127,
// one that cannot be executed 126, both with Error saying why. When ctx ends the process is
// killed.
func (e *Engine) Exec(ctx context.Context, ref string, opts ExecOptions) (ExitStatus, error) {
	if len(opts.Cmd) == 0 {
		return ExitStatus{}, errors.New("exec: no command given")
	}
	p, target, err := e.prepareExec(ref, opts)
	if err != nil {
		return ExitStatus{}, err
	}
	defer target.Close()
	if opts.Detach {
		p.Tty, p.Stdin, p.Stdout, p.Stderr = false, nil, nil, nil
	}
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
	if err != nil {
		var ee *nsenter.ExecError
		if errors.As(err, &ee) && (ee.Code == 126 || ee.Code == 127) {
			return ExitStatus{Code: ee.Code, Error: ee.Msg}, nil
		}
		return ExitStatus{}, fmt.Errorf("exec in %s: %w", target, err)
	}
	target.Close() // entered: nothing here holds the container's namespaces now
	e.log.Debug("exec", "container", ref, "pid", running.Pid, "cmd", opts.Cmd)
	if opts.Detach {
		go running.Wait() // reaped here, so a long-lived caller (the TUI) keeps no zombie
		return ExitStatus{}, nil
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
	} else {
		code, err = running.Wait()
	}
	if ctx.Err() != nil {
		return ExitStatus{}, ctx.Err()
	}
	if err != nil {
		return ExitStatus{Code: code}, fmt.Errorf("exec in %s: %w", ref, err)
	}
	return ExitStatus{Code: code}, nil
}

// prepareExec finds the container's init and opens what entering it takes, and builds the
// process from the container's config.json and opts.
func (e *Engine) prepareExec(ref string, opts ExecOptions) (nsenter.Process, *nsenter.Target, error) {
	var p nsenter.Process
	st, err := e.store()
	if err != nil {
		return p, nil, err
	}
	id, err := e.resolve(st, ref)
	if err != nil {
		return p, nil, err
	}
	rec, err := e.refresh(st, id)
	if err != nil {
		return p, nil, err
	}
	notRunning := func() error {
		return wrapKind(fmt.Errorf("container %s is not running", strings.TrimPrefix(rec.Name, "/")), ErrConflict)
	}
	if rec.Status != state.Running || rec.Pid <= 0 {
		return p, nil, notRunning()
	}
	data, err := os.ReadFile(st.Bundle(id) + "/config.json")
	if err != nil {
		return p, nil, fmt.Errorf("exec: read the container's config: %w", err)
	}
	var s execSpec
	if err := json.Unmarshal(data, &s); err != nil || s.Process == nil {
		return p, nil, fmt.Errorf("exec: the container's config.json is not an OCI runtime spec: %v", err)
	}
	target, err := nsenter.OpenTarget(rec.Pid, nsenter.TargetOptions{Root: true, Cgroups: true})
	if errors.Is(err, nsenter.ErrNoProcess) {
		return p, nil, notRunning()
	}
	if err != nil {
		return p, nil, fmt.Errorf("exec: enter container %s: %w", rec.Name, err)
	}
	p, err = execProcess(&s, rec.Pid, opts)
	if err == nil && p.Security.Seccomp != nil {
		p.Security.SeccompProgram, err = seccompProgram(st.Dir(id), s.Linux.Seccomp, p.Security.Seccomp)
	}
	if err != nil {
		target.Close()
		return p, nil, err
	}
	return p, target, nil
}

// seccompProgram returns the container's seccomp filter compiled for the exec helper, from
// a cache beside its record when one was made from the same profile by the same libseccomp:
// compiling docker's profile takes libseccomp tens of milliseconds, more than all the rest of
// an exec. The cache is glassbox's own file under its root (mode 0600), written whole by a
// rename, keyed by a SHA-256 of the profile's JSON and the library version.
func seccompProgram(dir string, raw json.RawMessage, cfg *specs.LinuxSeccomp) ([]byte, error) {
	key := sha256.Sum256(append([]byte(seccomp.Version()+"\x00"), raw...))
	path := filepath.Join(dir, "exec-seccomp.bpf")
	if data, err := os.ReadFile(path); err == nil && len(data) > len(key) && bytes.Equal(data[:len(key)], key[:]) {
		return data[len(key):], nil
	}
	prog, err := nsenter.ExportSeccomp(cfg)
	if err != nil {
		return nil, fmt.Errorf("exec: the container's seccomp profile: %w", err)
	}
	// Atomic, no fsync: a cache emptied by a power loss fails the key check and is made again.
	_ = atomicfile.WriteFile(path, append(key[:], prog...), 0o600, atomicfile.Atomic)
	return prog, nil // a cache that could not be written costs the next exec time, nothing else
}

// execSpec is the part of a config.json that exec uses: decoding the whole spec (mounts,
// devices, resources) cost an exec more than its namespaces did.
type execSpec struct {
	Process *specs.Process `json:"process"`
	Linux   *struct {
		Seccomp json.RawMessage `json:"seccomp"`
	} `json:"linux"`
}

// seccomp returns the spec's filter, nil when it has none.
func (s *execSpec) seccomp() (*specs.LinuxSeccomp, error) {
	if s.Linux == nil || len(s.Linux.Seccomp) == 0 || string(s.Linux.Seccomp) == "null" {
		return nil, nil
	}
	var sc specs.LinuxSeccomp
	if err := json.Unmarshal(s.Linux.Seccomp, &sc); err != nil {
		return nil, fmt.Errorf("exec: the container's seccomp profile: %w", err)
	}
	return &sc, nil
}

// execProcess is the process to run: the container's process settings with opts over them.
// A user (-u) is looked up in the container's own /etc/passwd and /etc/group, through the
// init's root (openat2 RESOLVE_IN_ROOT: the image's links cannot lead out).
func execProcess(s *execSpec, pid int, opts ExecOptions) (nsenter.Process, error) {
	proc := s.Process
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
	sec := nsenter.Security{User: &user, Capabilities: proc.Capabilities, NoNewPrivileges: proc.NoNewPrivileges, Rlimits: proc.Rlimits}
	var err error
	if sec.Seccomp, err = s.seccomp(); err != nil {
		return nsenter.Process{}, err
	}
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
			p.Stdin = opts.Stdin
		}
		p.Stdout, p.Stderr = opts.Stdout, opts.Stderr
		if p.Stderr == nil {
			p.Stderr = opts.Stdout
		}
	}
	return p, nil
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
// process ends and its output has been read.
func relayConsole(r *nsenter.Running, opts ExecOptions, initial *Size, stop <-chan struct{}) (int, error) {
	defer r.Console.Close()
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
	if opts.Interactive && opts.Stdin != nil {
		// Not waited for: it may sit in a read of the caller's stdin after the process ends.
		go io.Copy(r.Console, opts.Stdin)
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
	code, err := r.Wait()
	// A background process of the program may still hold the terminal: read what is there,
	// then stop.
	r.Console.SetReadDeadline(time.Now().Add(drainGrace))
	<-drained
	return code, err
}
