package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"github.com/glassbox/glassbox/internal/procfs"
	"golang.org/x/sys/unix"
)

// An exec the caller detaches from goes on after the caller exits. Nothing else holds it as
// docker's daemon does, so a keeper does: a glassbox process (ExecKeeperEntry) in a session of
// its own. For exec -d the keeper runs the exec itself (runDetached): the command is its child,
// it waits for it and exec_die has the exit code. For ctrl-p ctrl-q on exec -it the command is
// already the caller's child, so the caller leaves a keeper behind that
//   - holds the master of the exec's terminal, so the program keeps its terminal (a master
//     closed with the caller would hang it up: SIGHUP, pty(7)) and reads and drops what the
//     program writes there, so a program that goes on writing never blocks on a full
//     terminal;
//   - waits on a pidfd of the program and writes exec_die when it ends.
// The program is the caller's child, not the keeper's (only a parent or the reaper it is
// handed to may wait(2) for it), so the exit code is read from /proc/PID/stat while the
// program is a zombie; when its new parent has already reaped it, exec_die has no exitCode.
// The keeper ends with the program: closing the master then hangs up what the program left
// in the background on that terminal, as docker does when an exec's process ends.

// ExecKeeperEntry is the keeper's argv[1]. The binary that runs an exec is re-executed as its
// keeper (/proc/self/exe), and that may be any program the engine is linked into (glassbox,
// the TUI, a test binary), not only one whose main dispatches hidden entries: so the engine
// runs the keeper itself, from this package's init, when argv[1] is ExecKeeperEntry and the
// environment holds execKeeperEnv (which only keepDetached and execDetached set).
const ExecKeeperEntry = "exec-keeper"

const execKeeperEnv = "GLASSBOX_EXEC_KEEPER=1"

func init() {
	if len(os.Args) > 1 && os.Args[1] == ExecKeeperEntry && slices.Contains(os.Environ(), execKeeperEnv) {
		os.Exit(ExecKeeperMain(os.Args[2:]))
	}
}

// keepDetached starts the keeper of the program pid: console, when set, is its terminal's
// master. It returns once the keeper runs; the keeper is not waited for.
func keepDetached(ev *execEvents, pid int, console *os.File) error {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	pf := os.NewFile(uintptr(pidfd), "pidfd")
	defer pf.Close()
	cmd := exec.Command("/proc/self/exe", ExecKeeperEntry, ev.path, strconv.Itoa(pid), ev.id, ev.name, ev.image, ev.execID)
	cmd.Args[0] = "glassbox"
	cmd.Env = []string{execKeeperEnv}
	cmd.ExtraFiles = []*os.File{pf}
	if console != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, console)
	}
	// Its own session (the caller's terminal closing or its job control reaches it not), in
	// "/" (it pins none of the caller's directories for as long as the exec lives).
	cmd.SysProcAttr, cmd.Dir = &unix.SysProcAttr{Setsid: true}, "/"
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the exec's keeper: %w", err)
	}
	return cmd.Process.Release()
}

// detachedExec is what execDetached hands its keeper: the exec, with -e NAME already given
// the caller's value (the keeper's environment is not the caller's).
type detachedExec struct {
	Ref        string
	Cmd        []string
	User       string
	Env        []string
	WorkingDir string
	Privileged bool
}

// detachedStart is the keeper's answer: the command runs (all zero), or could not be executed
// (Code 126 or 127, Msg), or the exec failed (Err, Kind "notfound" or "conflict" for the
// engine's errors of those kinds).
type detachedStart struct {
	Code int    `json:",omitempty"`
	Msg  string `json:",omitempty"`
	Err  string `json:",omitempty"`
	Kind string `json:",omitempty"`
}

// execDetached is exec -d: a keeper started here runs the exec and waits for it, so exec_die
// carries the command's exit code although the caller (the CLI) has long exited. It returns
// once the keeper says the command runs, or why it does not.
func (e *Engine) execDetached(ref string, opts ExecOptions) (ExitStatus, error) {
	req := detachedExec{Ref: ref, Cmd: opts.Cmd, User: opts.User, WorkingDir: opts.WorkingDir, Privileged: opts.Privileged}
	for _, kv := range opts.Env {
		if !strings.Contains(kv, "=") {
			kv += "=" + os.Getenv(kv)
		}
		req.Env = append(req.Env, kv)
	}
	data, err := json.Marshal(req)
	if err != nil {
		return ExitStatus{}, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return ExitStatus{}, err
	}
	defer r.Close()
	cmd := exec.Command("/proc/self/exe", ExecKeeperEntry, "run", e.root, string(data))
	cmd.Args[0] = "glassbox"
	cmd.Env = []string{execKeeperEnv}
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr, cmd.Dir = &unix.SysProcAttr{Setsid: true}, "/" // as keepDetached's
	err = cmd.Start()
	w.Close()
	if err != nil {
		return ExitStatus{}, fmt.Errorf("exec -d: start its keeper: %w", err)
	}
	var st detachedStart
	if err := json.NewDecoder(r).Decode(&st); err != nil {
		state, _ := cmd.Process.Wait()
		return ExitStatus{}, fmt.Errorf("exec -d: its keeper ended (%v) without starting %v", state, opts.Cmd)
	}
	cmd.Process.Release() // it goes on, waiting for the command
	switch {
	case st.Err != "" && st.Kind == "notfound":
		return ExitStatus{}, wrapKind(errors.New(st.Err), ErrNotFound)
	case st.Err != "" && st.Kind == "conflict":
		return ExitStatus{}, wrapKind(errors.New(st.Err), ErrConflict)
	case st.Err != "":
		return ExitStatus{}, errors.New(st.Err)
	}
	return ExitStatus{Code: st.Code, Error: st.Msg}, nil
}

// runDetached is the keeper of exec -d: args are the root and the detachedExec (JSON); fd 3
// takes its answer. It runs the exec with no streams and waits for it; exec writes exec_die.
func runDetached(args []string) int {
	answer := os.NewFile(3, "answer")
	reply := func(st detachedStart) {
		if answer != nil {
			json.NewEncoder(answer).Encode(st)
			answer.Close()
			answer = nil
		}
	}
	fail := func(err error) int {
		st := detachedStart{Err: err.Error()}
		switch {
		case errors.Is(err, ErrNotFound):
			st.Kind = "notfound"
		case errors.Is(err, ErrConflict):
			st.Kind = "conflict"
		}
		reply(st)
		return 1
	}
	var req detachedExec
	if len(args) != 2 {
		return fail(errors.New("exec keeper: want ROOT REQUEST"))
	}
	if err := json.Unmarshal([]byte(args[1]), &req); err != nil {
		return fail(fmt.Errorf("exec keeper: %w", err))
	}
	e, err := Open(Options{Root: args[0]})
	if err != nil {
		return fail(err)
	}
	opts := ExecOptions{Cmd: req.Cmd, User: req.User, Env: req.Env, WorkingDir: req.WorkingDir, Privileged: req.Privileged}
	st, err := e.exec(context.Background(), req.Ref, opts, func() { reply(detachedStart{}) })
	if err != nil {
		return fail(err)
	}
	reply(detachedStart{Code: st.Code, Msg: st.Error}) // when it could not start
	return 0
}

// ExecKeeperMain is the keeper (see ExecKeeperEntry): "run ROOT REQUEST" is exec -d's
// (runDetached); otherwise args are the events log, the program's PID, the container's
// ID, name and image and the exec's ID; fd 3 is a pidfd of the program, fd 4 (when open) the
// master of its terminal.
func ExecKeeperMain(args []string) int {
	if len(args) > 0 && args[0] == "run" {
		return runDetached(args[1:])
	}
	if len(args) != 6 {
		fmt.Fprintln(os.Stderr, "glassbox exec-keeper: want EVENTS PID ID NAME IMAGE EXECID")
		return 2
	}
	pid, err := strconv.Atoi(args[1])
	if err != nil {
		return 2
	}
	ev := &execEvents{path: args[0], id: args[2], name: args[3], image: args[4], execID: args[5]}
	fds := []unix.PollFd{{Fd: 3, Events: unix.POLLIN}}
	if _, err := unix.FcntlInt(4, unix.F_GETFD, 0); err == nil {
		unix.SetNonblock(4, true) // passing it blocked it (os.File.Fd)
		fds = append(fds, unix.PollFd{Fd: 4, Events: unix.POLLIN})
	}
	buf := make([]byte, 32<<10)
	for {
		_, err := unix.Poll(fds, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			break
		}
		if len(fds) > 1 && fds[1].Revents != 0 {
			for { // read what is there
				n, err := unix.Read(4, buf)
				if n > 0 {
					continue
				}
				if err == unix.EAGAIN || err == unix.EINTR {
					break
				}
				fds = fds[:1] // EIO: no one holds the terminal any more
				break
			}
		}
		if fds[0].Revents != 0 { // the program has exited (pidfd_open(2))
			break
		}
	}
	ev.died(zombieExitCode(pid))
	return 0
}

// zombieExitCode is the exit code of pid while it is a zombie (/proc/PID/stat field 52, the
// wait(2) status, proc(5)), as a shell reports it; -1 when it is already reaped.
func zombieExitCode(pid int) int {
	stat, err := procfs.ReadStat(pid)
	if err != nil || stat.State() != 'Z' {
		return -1
	}
	st, err := strconv.Atoi(stat.Field(52))
	if err != nil {
		return -1
	}
	ws := unix.WaitStatus(st)
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// copyInput copies the caller's input to the program's terminal until the input ends or
// holds the detach keys (the keys themselves are not sent); it closes detached then.
func copyInput(dst io.Writer, src io.Reader, keys []byte, detached chan<- struct{}) {
	scanner := detachScanner{keys: keys}
	buf := make([]byte, 4096)
	for {
		n, err := src.Read(buf)
		out, detach := scanner.scan(buf[:n])
		if detach {
			dst.Write(out)
			close(detached)
			return
		}
		if len(out) > 0 {
			if _, werr := dst.Write(out); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
