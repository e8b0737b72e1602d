package nsenter

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/runtime/lsm"
	"github.com/glassbox/glassbox/engine/runtime/sched"
)

// ExecEntry is the re-exec entry that runs a Process inside the joined namespaces; the
// glassbox binary registers ExecMain under this name.
const ExecEntry = "nsenter-exec"

// Size is a terminal size in character cells.
type Size struct {
	Rows, Cols uint16
}

// Process is a program to run in a target's namespaces.
type Process struct {
	// Args is the command line. Empty: the shell named by SHELL in Env when the target has
	// it, else /bin/sh, started as a login shell ("-sh"), as nsenter(1) does.
	Args []string
	// Env is the program's whole environment.
	Env []string
	// Cwd is a working directory inside the target's root, resolved after entering it.
	// Empty: the target's own working directory when its root is entered, else unchanged.
	Cwd string
	// Tty gives the program a new pseudo-terminal, opened from /dev/ptmx inside the target
	// (so that it belongs to the target's devpts), as its controlling terminal and stdio.
	// Running.Console is its master.
	Tty bool
	// ConsoleSize is the terminal's size before the program starts (Tty only).
	ConsoleSize Size
	// Stdin, Stdout and Stderr are the program's stdio without Tty (see Cmd).
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Binary is the glassbox binary that enters; Binary() by default.
	Binary string
	// Security is the user, capabilities, limits and filter the program runs with.
	Security Security
	// ExtraFiles reach the program as descriptors 3, 4... (runc's exec --preserve-fds);
	// nothing else beyond stdio does. Only a Process with Args can have them.
	ExtraFiles []*os.File
	// NoFork and PreserveCredentials are Config's.
	NoFork              bool
	PreserveCredentials bool
}

// Running is a Process started inside a target.
type Running struct {
	// Pid is the process's PID in the caller's PID namespace. The process is the caller's
	// child: Wait reaps it.
	Pid int
	// Console is the master of the program's pseudo-terminal (Tty only): read its output,
	// write its input, Resize it. The caller closes it once it has read the output (a read
	// fails with EIO when the last holder of the terminal is gone).
	Console *os.File
	cmd     *Cmd
}

// ExecError is a program that could not be started: Code is 127 when it was not found, 126
// when it could not be executed, 125 when entering the target's root or directory failed.
type ExecError struct {
	Code int
	Msg  string
}

func (e *ExecError) Error() string { return e.Msg }

// execRequest is what the caller sends the entry over descriptor 3.
type execRequest struct {
	Args   []string `json:"args,omitempty"`
	Env    []string `json:"env,omitempty"`
	Cwd    string   `json:"cwd,omitempty"`
	Shell  string   `json:"shell,omitempty"`
	Tty    bool     `json:"tty,omitempty"`
	Rows   uint16   `json:"rows,omitempty"`
	Cols   uint16   `json:"cols,omitempty"`
	RootFD int      `json:"rootFD"`
	CwdFD  int      `json:"cwdFD"`
	// Security is applied last, right before execve.
	Security Security `json:"security"`
}

// execReply is the entry's answer when it fails; on success the socket just closes (it is
// close-on-exec).
type execReply struct {
	Code  int    `json:"code"`
	Error string `json:"error"`
}

const consoleMessage = "console"

// Start enters the target and starts p there. It returns once the program has been executed,
// or with an *ExecError when it could not be.
func (t *Target) Start(p Process) (*Running, error) {
	return start(t.Config(), p, t.Root, t.Cwd)
}

// start runs p under cfg; root and cwd, when set, are entered before anything else.
func start(cfg Config, p Process, root, cwd *os.File) (*Running, error) {
	// A host without the module refuses the label before anything starts.
	if err := lsm.CheckAppArmor("process.apparmorProfile", p.Security.ApparmorProfile); err != nil {
		return nil, err
	}
	if err := lsm.CheckSELinux("process.selinuxLabel", p.Security.SelinuxLabel); err != nil {
		return nil, err
	}
	if sc := p.Security.Scheduler; sc != nil {
		if _, err := sched.Attr("process.scheduler", sc); err != nil {
			return nil, err
		}
	}
	if io := p.Security.IOPriority; io != nil {
		if _, err := sched.IOPrio("process.ioPriority", io); err != nil {
			return nil, err
		}
	}
	preserved := len(p.ExtraFiles)
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	parent := os.NewFile(uintptr(pair[0]), "nsenter exec")
	child := os.NewFile(uintptr(pair[1]), "nsenter exec")
	defer parent.Close()
	defer child.Close()

	req := execRequest{Args: p.Args, Env: p.Env, Cwd: p.Cwd, Tty: p.Tty, Rows: p.ConsoleSize.Rows, Cols: p.ConsoleSize.Cols, RootFD: -1, CwdFD: -1, Security: p.Security}
	if len(p.Args) == 0 {
		req.Shell = lookupEnv(p.Env, "SHELL")
	}
	cfg.NoFork = p.NoFork
	cfg.PreserveCredentials = p.PreserveCredentials
	// The Go half learns from its argument where the request socket is.
	cmd := Command(cfg, ExecEntry, strconv.Itoa(preserved))
	if p.Binary != "" {
		cmd.Path = p.Binary
	}
	// The preserved descriptors come first, at the numbers the program gets them; the
	// request socket, then the root and working directory follow (execc.c keeps what is
	// below the request socket).
	inC := finishesInC(p)
	cmd.ExtraFiles = append(append([]*os.File{}, p.ExtraFiles...), child)
	if root != nil && cwd != nil {
		req.RootFD, req.CwdFD = requestFD+preserved+1, requestFD+preserved+2
		cmd.ExtraFiles = append(cmd.ExtraFiles, root, cwd)
	}
	if !p.Tty {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = p.Stdin, p.Stdout, p.Stderr
	}
	if inC {
		if cmd.Config.exec, err = newExecRecord(req, requestFD+preserved); err != nil {
			return nil, fmt.Errorf("exec %v: %w", p.Args, err)
		}
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	child.Close()
	r := &Running{Pid: cmd.Process.Pid, cmd: cmd}
	fail := func(err error) (*Running, error) {
		cmd.Process.Kill()
		cmd.Wait()
		if r.Console != nil {
			r.Console.Close()
		}
		return nil, err
	}

	// In C the process has it all in its config; the Go half reads it from here.
	if !inC {
		body, err := json.Marshal(req)
		if err != nil {
			return fail(err)
		}
		if _, err := parent.Write(body); err != nil {
			return fail(fmt.Errorf("send process to pid %d: %w", r.Pid, err))
		}
	}
	for {
		msg, fd, err := recvMessage(parent)
		if err != nil {
			return fail(fmt.Errorf("read from pid %d: %w", r.Pid, err))
		}
		switch {
		case msg == nil: // closed on exec: the program runs
			return r, nil
		case string(msg) == consoleMessage && fd >= 0 && r.Console == nil:
			if r.Console, err = consoleFile(fd); err != nil {
				return fail(err)
			}
		default:
			if fd >= 0 {
				unix.Close(fd)
			}
			var reply execReply
			if err := json.Unmarshal(msg, &reply); err != nil {
				return fail(fmt.Errorf("bad reply from pid %d: %q", r.Pid, msg))
			}
			cmd.Wait()
			if r.Console != nil {
				r.Console.Close()
			}
			return nil, &ExecError{Code: reply.Code, Msg: reply.Error}
		}
	}
}

// recvMessage reads one message and the descriptor it carries (-1 if none); nil at EOF.
func recvMessage(f *os.File) ([]byte, int, error) {
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4*4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(int(f.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, -1, err
		}
		fd := -1
		if oobn > 0 {
			msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err == nil {
				for i := range msgs {
					fds, err := unix.ParseUnixRights(&msgs[i])
					if err != nil {
						continue
					}
					for _, f := range fds {
						if fd < 0 {
							fd = f
						} else {
							unix.Close(f)
						}
					}
				}
			}
		}
		if n == 0 && fd < 0 {
			return nil, -1, nil
		}
		return buf[:n], fd, nil
	}
}

// consoleFile checks that fd, which came from inside the target, really is a pseudo-terminal
// master before the caller trusts it.
func consoleFile(fd int) (*os.File, error) {
	if _, err := unix.IoctlGetInt(fd, unix.TIOCGPTN); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("console from the target is not a pty master: %w", err)
	}
	// Non-blocking, so that the runtime poller serves it and reads can have deadlines.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), "pty master"), nil
}

// Resize sets the console's size; the program gets SIGWINCH.
func (r *Running) Resize(s Size) error {
	if r.Console == nil {
		return errors.New("no console")
	}
	return pty.Setsize(r.Console, &pty.Winsize{Rows: s.Rows, Cols: s.Cols})
}

// Signal sends sig to the process.
func (r *Running) Signal(sig os.Signal) error { return r.cmd.Process.Signal(sig) }

// Wait waits for the program to end and returns its exit code, 128+N for signal N.
func (r *Running) Wait() (int, error) {
	state, err := r.cmd.Wait()
	if state == nil {
		return -1, err
	}
	return ExitCode(state), err
}

// ExitCode is a process's exit status as a shell reports it: 128+N for signal N.
func ExitCode(state *os.ProcessState) int {
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return state.ExitCode()
}

func lookupEnv(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return ""
}
