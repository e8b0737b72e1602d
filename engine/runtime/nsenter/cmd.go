package nsenter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Cmd starts a program (the glassbox binary, by default) whose C constructor applies Config
// before its Go runtime starts; the Go side then runs the re-exec entry named in Args[1].
// It is shaped like exec.Cmd.
type Cmd struct {
	// Path is the binary; Binary() unless set.
	Path string
	// Args holds the command line, Args[0] included.
	Args []string
	// Env is the helper's environment (empty unless set); Start adds _GLASSBOX_NSENTER,
	// which the constructor removes again.
	Env []string
	// Dir is the helper's working directory before it joins anything; "" keeps the caller's.
	Dir string
	// Stdin, Stdout and Stderr are handed to the process that goes on, as exec.Cmd does:
	// an *os.File directly, anything else through a pipe; nil is /dev/null.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// ExtraFiles become descriptors 3, 4...; the constructor marks them close-on-exec.
	ExtraFiles []*os.File
	// SysProcAttr applies to the first process (setsid, process group, credentials). With
	// Cloneflags CLONE_NEWPID the first process is PID 1 of a new PID namespace already, and
	// is the Process (a Config that unshares no PID namespace then has no fork to do).
	SysProcAttr *syscall.SysProcAttr
	// Sealed says Path is a binary nobody can write through already (a read-only mount or a
	// sealed memfd the caller made, CVE-2019-5736, at a descriptor above the helper's own
	// files): Start executes it as it is instead of making a read-only clone of it.
	Sealed bool
	// Config is what the constructor does.
	Config Config

	// Process is the process that went on into Go: in the joined PID namespace after a
	// fork, the caller's own child either way. Set by Start.
	Process *os.Process
	// CgroupsJoined is when Start began and ended writing the helper's PID to the cgroups
	// (Config.CallerJoinsCgroups).
	CgroupsJoined [2]time.Time
	// Prepare, when set, runs once the helper has started, before it is joined to the
	// cgroups and sent its config, which its constructor waits for: the caller's work there
	// (making the cgroups) overlaps the helper's execve and dynamic loader. An error ends the
	// helper and is Start's.
	Prepare func() error

	helper     *os.Process
	closeAfter []io.Closer // parent ends of stdio pipes, closed once the process has exited
	copying    sync.WaitGroup
	copyErr    error
	copyMu     sync.Mutex
	waited     bool
}

// Command returns a Cmd that runs the glassbox binary with args (a re-exec entry name and
// its arguments) under cfg.
func Command(cfg Config, args ...string) *Cmd {
	return &Cmd{Path: Binary(), Args: append([]string{"glassbox"}, args...), Config: cfg}
}

// Start runs the helper and returns once the constructor has done its work: every cgroup and
// namespace joined, created and forked into, or an error naming the step that failed.
func (c *Cmd) Start() (err error) {
	if c.helper != nil {
		return errors.New("nsenter: already started")
	}
	if len(c.Config.Join) > maxNamespaces {
		return fmt.Errorf("nsenter: %d namespaces to join, at most %d", len(c.Config.Join), maxNamespaces)
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("nsenter: socketpair: %w", err)
	}
	parent := os.NewFile(uintptr(pair[0]), "nsenter config")
	child := os.NewFile(uintptr(pair[1]), "nsenter config")
	defer parent.Close()
	defer child.Close()

	var files []*os.File
	var closeNow []io.Closer
	defer func() {
		for _, f := range closeNow {
			f.Close()
		}
		if err != nil {
			for _, f := range c.closeAfter {
				f.Close()
			}
		}
	}()
	stdio, err := c.stdio(&closeNow)
	if err != nil {
		return err
	}
	files = append(files, stdio...)
	files = append(files, c.ExtraFiles...)
	// Namespace files go after the caller's, so that ExtraFiles keep their numbers.
	fds := map[*os.File]int{}
	for _, ns := range c.Config.Join {
		if ns.File != nil {
			fds[ns.File] = len(files)
			files = append(files, ns.File)
		}
	}
	configFD := len(files)
	files = append(files, child)
	cfg, err := c.Config.encode(fds)
	if err != nil {
		return fmt.Errorf("nsenter: %w", err)
	}

	path := c.Path
	if path == "" {
		path = Binary()
	}
	exe := path
	if c.Sealed {
		// Nothing to do.
	} else if fd, err := readOnlyBinary(path, len(files)); err == nil {
		defer unix.Close(fd)
		exe = "/proc/self/fd/" + strconv.Itoa(fd)
	} else if !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("nsenter: %w", err)
	}
	env := append(cloneStrings(c.Env), envConfigFD+"="+strconv.Itoa(configFD))
	helper, err := os.StartProcess(exe, c.Args, &os.ProcAttr{Dir: c.Dir, Env: env, Files: files, Sys: c.SysProcAttr})
	if err != nil {
		return fmt.Errorf("nsenter: start %s: %w", path, err)
	}
	c.helper = helper
	child.Close() // EOF below means every helper process has let go of the socket
	if c.Prepare != nil {
		if err := c.Prepare(); err != nil {
			c.helper.Kill()
			c.reapHelper()
			return err
		}
	}
	if c.Config.CallerJoinsCgroups {
		c.CgroupsJoined[0] = time.Now()
		err := joinCgroups(c.Config.CgroupProcs, helper.Pid)
		c.CgroupsJoined[1] = time.Now()
		if err != nil {
			c.helper.Kill()
			c.reapHelper()
			return err
		}
	}

	pid, runErr := c.converse(parent, cfg)
	if runErr != nil {
		c.helper.Kill()
		c.reapHelper()
		if pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
			c.reap(pid)
		}
		return runErr
	}
	// In a PID namespace of its own from the clone, the helper reports itself as PID 1.
	newPIDNS := c.SysProcAttr != nil && c.SysProcAttr.Cloneflags&unix.CLONE_NEWPID != 0
	if pid == helper.Pid || newPIDNS && pid == 1 {
		c.Process = helper
		return nil
	}
	// The helper forked: it has exited or is about to. Reap it now, so that no zombie stands
	// beside the process for its whole life, and see that it succeeded.
	if state := c.reapHelper(); state != nil && !state.Success() {
		syscall.Kill(pid, syscall.SIGKILL)
		c.reap(pid)
		return fmt.Errorf("nsenter: helper %s", state)
	}
	c.Process, err = os.FindProcess(pid)
	return err
}

func cloneStrings(s []string) []string { return append([]string(nil), s...) }

// joinCgroups moves pid into each cgroup.procs file.
func joinCgroups(files []string, pid int) error {
	b := []byte(strconv.Itoa(pid))
	for _, p := range files {
		fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			_, err = unix.Write(fd, b)
			unix.Close(fd)
		}
		if err != nil {
			return fmt.Errorf("nsenter: join cgroup %s: %w", p, err)
		}
	}
	return nil
}

// converse writes the config and answers the constructor until it lets go of the socket. It
// returns the PID reported, or an error.
func (c *Cmd) converse(sock *os.File, cfg []byte) (int, error) {
	if _, err := sock.Write(cfg); err != nil {
		// The helper died before reading: say why, if it did.
		if state := c.reapHelper(); state != nil {
			return 0, fmt.Errorf("nsenter: helper %s before reading its config (is engine/runtime/nsenter linked into %s?)", state, c.Path)
		}
		return 0, fmt.Errorf("nsenter: write config: %w", err)
	}
	pid := 0
	for {
		var hdr [2]uint32
		if err := binary.Read(sock, binary.NativeEndian, &hdr); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return pid, fmt.Errorf("nsenter: read from helper: %w", err)
		}
		payload := make([]byte, hdr[1])
		if _, err := io.ReadFull(sock, payload); err != nil {
			return pid, fmt.Errorf("nsenter: read from helper: %w", err)
		}
		switch hdr[0] {
		case msgPID:
			if len(payload) != 4 {
				return pid, errors.New("nsenter: bad pid message")
			}
			pid = int(int32(binary.NativeEndian.Uint32(payload)))
		case msgUsermap:
			if len(payload) != 4 {
				return pid, errors.New("nsenter: bad usermap message")
			}
			if err := c.writeIDMaps(int(int32(binary.NativeEndian.Uint32(payload)))); err != nil {
				return pid, err
			}
			if err := binary.Write(sock, binary.NativeEndian, [2]uint32{msgUsermapDone, 0}); err != nil {
				return pid, fmt.Errorf("nsenter: answer helper: %w", err)
			}
		case msgError:
			if len(payload) < 4 {
				return pid, errors.New("nsenter: bad error message")
			}
			errno := syscall.Errno(binary.NativeEndian.Uint32(payload))
			return pid, &StepError{Step: string(payload[4:]), Err: errno}
		default:
			return pid, fmt.Errorf("nsenter: unknown message %d from helper", hdr[0])
		}
	}
	if pid == 0 {
		state := c.reapHelper()
		return 0, fmt.Errorf("nsenter: helper %v without reporting a pid (is engine/runtime/nsenter linked into %s?)", state, c.Path)
	}
	return pid, nil
}

// StepError is a step of the constructor that failed: "setns mnt of pid 1234".
type StepError struct {
	Step string
	Err  syscall.Errno
}

func (e *StepError) Error() string { return e.Step + ": " + e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

// writeIDMaps writes a new user namespace's maps from outside it (user_namespaces(7): the
// writer needs CAP_SETUID/CAP_SETGID in the parent namespace, which the helper gave up).
func (c *Cmd) writeIDMaps(pid int) error {
	format := func(m []syscall.SysProcIDMap) string {
		var b strings.Builder
		for _, e := range m {
			fmt.Fprintf(&b, "%d %d %d\n", e.ContainerID, e.HostID, e.Size)
		}
		return b.String()
	}
	proc := "/proc/" + strconv.Itoa(pid)
	if len(c.Config.GIDMappings) > 0 && !c.Config.GIDMappingsEnableSetgroups {
		if err := os.WriteFile(proc+"/setgroups", []byte("deny"), 0); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("nsenter: write %s/setgroups: %w", proc, err)
		}
	}
	if len(c.Config.UIDMappings) > 0 {
		if err := os.WriteFile(proc+"/uid_map", []byte(format(c.Config.UIDMappings)), 0); err != nil {
			return fmt.Errorf("nsenter: write %s/uid_map: %w", proc, err)
		}
	}
	if len(c.Config.GIDMappings) > 0 {
		if err := os.WriteFile(proc+"/gid_map", []byte(format(c.Config.GIDMappings)), 0); err != nil {
			return fmt.Errorf("nsenter: write %s/gid_map: %w", proc, err)
		}
	}
	return nil
}

// reapHelper waits for the first process once; nil if it was already reaped.
func (c *Cmd) reapHelper() *os.ProcessState {
	if c.helper == nil || c.waited {
		return nil
	}
	c.waited = true
	state, _ := c.helper.Wait()
	return state
}

func (c *Cmd) reap(pid int) {
	var ws syscall.WaitStatus
	for {
		if _, err := syscall.Wait4(pid, &ws, 0, nil); err != syscall.EINTR {
			return
		}
	}
}

// Wait waits for the process to exit and for its output to be copied.
func (c *Cmd) Wait() (*os.ProcessState, error) {
	if c.Process == nil {
		return nil, errors.New("nsenter: not started")
	}
	state, err := c.Process.Wait()
	if c.Process == c.helper {
		c.waited = true
	}
	c.copying.Wait()
	for _, f := range c.closeAfter {
		f.Close()
	}
	c.closeAfter = nil
	if err == nil {
		c.copyMu.Lock()
		err = c.copyErr
		c.copyMu.Unlock()
	}
	return state, err
}

// stdio returns descriptors 0, 1 and 2 of the helper. Pipe ends the helper gets are added to
// closeNow (closed once it has started); copying goroutines end when the process does.
func (c *Cmd) stdio(closeNow *[]io.Closer) ([]*os.File, error) {
	var files []*os.File
	devNull := func() (*os.File, error) {
		f, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		if err == nil {
			*closeNow = append(*closeNow, f)
		}
		return f, err
	}
	if f, ok := c.Stdin.(*os.File); ok {
		files = append(files, f)
	} else if c.Stdin == nil {
		f, err := devNull()
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	} else {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		*closeNow = append(*closeNow, r)
		c.closeAfter = append(c.closeAfter, w)
		// Not waited for: a reader such as a terminal may block past the process's end. It
		// stops at its next write once the pipe is closed.
		go func() {
			io.Copy(w, c.Stdin)
			w.Close()
		}()
		files = append(files, r)
	}
	for i, out := range []io.Writer{c.Stdout, c.Stderr} {
		if f, ok := out.(*os.File); ok {
			files = append(files, f)
			continue
		}
		if out == nil {
			f, err := devNull()
			if err != nil {
				return nil, err
			}
			files = append(files, f)
			continue
		}
		if i == 1 && interfaceEqual(c.Stderr, c.Stdout) {
			files = append(files, files[1]) // one writer, one pipe: no two goroutines write it
			continue
		}
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		*closeNow = append(*closeNow, w)
		c.copying.Add(1)
		go func() {
			defer c.copying.Done()
			_, err := io.Copy(out, r)
			r.Close()
			if err != nil {
				c.copyMu.Lock()
				if c.copyErr == nil {
					c.copyErr = err
				}
				c.copyMu.Unlock()
			}
		}()
		files = append(files, w)
	}
	return files, nil
}

// interfaceEqual compares two writers without panicking on uncomparable dynamic types.
func interfaceEqual(a, b io.Writer) (eq bool) {
	defer func() {
		if recover() != nil {
			eq = false
		}
	}()
	return a == b
}
