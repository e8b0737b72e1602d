package nsenter

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// requestFD is where the caller's execRequest arrives when no descriptors are preserved
// (Process.Start's ExtraFiles[0]); the preserved ones come before it.
const requestFD = 3

// defaultPath is the search path when the program's environment has none (runc's and
// docker's default).
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// ExecMain is the Go half of entering: it runs in the process the constructor left inside
// the target's namespaces and cgroups, enters the target's root and working directory, sets
// up the terminal, and executes the program. It returns only when that fails, with the exit
// status the caller reports (127 not found, 126 not executable, 125 anything else).
func ExecMain(args []string) int {
	lockThread()
	// The one argument is how many preserved descriptors come before the request socket.
	preserved := 0
	if len(args) == 1 {
		preserved, _ = strconv.Atoi(args[0])
	}
	if preserved < 0 || preserved > 1<<20 {
		preserved = 0
	}
	reqFD := requestFD + preserved
	buf := make([]byte, 1<<20)
	n, err := unix.Read(reqFD, buf)
	if err != nil || n == 0 {
		fmt.Fprintf(os.Stderr, "glassbox: %s is started by glassbox itself, not by hand (read request: %v)\n", ExecEntry, err)
		return 125
	}
	var req execRequest
	if err := json.Unmarshal(buf[:n], &req); err != nil {
		fmt.Fprintf(os.Stderr, "glassbox: %s: bad request: %v\n", ExecEntry, err)
		return 125
	}
	code, err := execProcess(req, preserved)
	reply, _ := json.Marshal(execReply{Code: code, Error: err.Error()})
	unix.Write(reqFD, reply)
	return code
}

// execProcess returns only on failure.
func execProcess(req execRequest, preserved int) (int, error) {
	if err := enterRoot(req); err != nil {
		return 125, err
	}
	file, argv := "", req.Args
	if len(argv) == 0 {
		shell := req.Shell
		if shell == "" || unix.Access(shell, unix.X_OK) != nil {
			shell = "/bin/sh"
		}
		// A login shell, as nsenter(1) starts one: argv[0] "-sh" names the file /bin/sh.
		file, argv = shell, []string{"-" + filepath.Base(shell)}
	} else {
		file = argv[0]
	}
	if req.Tty {
		if err := setupConsole(req); err != nil {
			return 125, err
		}
		// The terminal is the program's, as login(1) and runc make it: its user owns the slave.
		if u := req.Security.User; u != nil {
			if err := unix.Fchown(0, int(u.UID), -1); err != nil {
				return 125, fmt.Errorf("chown console to uid %d: %w", u.UID, err)
			}
		}
	}
	if err := applySecurity(req.Security); err != nil {
		return 125, err
	}
	// The caller's preserved descriptors reach the program (the constructor marked them).
	for fd := 3; fd < 3+preserved; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
			return 125, fmt.Errorf("preserved descriptor %d: fcntl F_SETFD: %w", fd, err)
		}
	}
	return execvp(file, argv, req.Env, 3+preserved)
}

// enterRoot enters the target's root and working directory (nsenter -r -w), then the
// requested directory. fchdir to a descriptor opened from the caller's side, then chroot(".")
// is how nsenter(1) does it: the path /proc/PID/root means nothing once inside.
func enterRoot(req execRequest) error {
	if req.RootFD >= 0 {
		if err := unix.Fchdir(req.RootFD); err != nil {
			return fmt.Errorf("enter the target's root: fchdir: %w", err)
		}
		if err := unix.Chroot("."); err != nil {
			return fmt.Errorf("enter the target's root: chroot: %w", err)
		}
		if err := unix.Chdir("/"); err != nil {
			return fmt.Errorf("enter the target's root: chdir /: %w", err)
		}
		unix.Close(req.RootFD)
	}
	if req.Cwd != "" {
		if err := unix.Chdir(req.Cwd); err != nil {
			return fmt.Errorf("chdir %s: %w", req.Cwd, err)
		}
	} else if req.CwdFD >= 0 {
		if err := unix.Fchdir(req.CwdFD); err != nil {
			return fmt.Errorf("enter the target's working directory: fchdir: %w", err)
		}
		// A directory outside the new root would let the program walk out of it with ".."
		// (CVE-2024-21626): getcwd(2) says "(unreachable)" then; fall back to the root.
		if wd, err := unix.Getwd(); err != nil || !strings.HasPrefix(wd, "/") {
			if err := unix.Chdir("/"); err != nil {
				return fmt.Errorf("chdir /: %w", err)
			}
		}
	}
	if req.CwdFD >= 0 {
		unix.Close(req.CwdFD)
	}
	return nil
}

// execvp executes file as execvp(3) does, searching PATH of env when it has no slash, and
// returns the status for its failure: 127 when nothing was found, 126 when something found
// could not be executed.
func execvp(file string, argv, env []string, keepBelow int) (int, error) {
	// Everything this process still holds besides stdio and the preserved descriptors (below
	// keepBelow) stays behind (the constructor marked inherited descriptors already; this
	// covers any opened since).
	closeExecFrom(keepBelow)
	if strings.Contains(file, "/") {
		err := unix.Exec(file, argv, env)
		return execStatus(err), fmt.Errorf("exec %s: %w", file, err)
	}
	search := lookupEnv(env, "PATH")
	if search == "" {
		search = defaultPath
	}
	var denied error
	for _, dir := range filepath.SplitList(search) {
		if dir == "" {
			dir = "."
		}
		path := dir + "/" + file
		err := unix.Exec(path, argv, env)
		switch {
		case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR), errors.Is(err, unix.ESTALE):
		case errors.Is(err, unix.EACCES):
			denied = fmt.Errorf("exec %s: %w", path, err)
		default:
			return 126, fmt.Errorf("exec %s: %w", path, err)
		}
	}
	if denied != nil {
		return 126, denied
	}
	return 127, fmt.Errorf("exec %q: executable file not found in $PATH", file)
}

func execStatus(err error) int {
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return 127
	}
	return 126
}

func closeExecFrom(fd int) {
	if err := unix.CloseRange(uint(fd), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err == nil {
		return
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		var n int
		if _, err := fmt.Sscan(e.Name(), &n); err == nil && n >= fd {
			unix.CloseOnExec(n)
		}
	}
}

// setupConsole opens a pseudo-terminal from the /dev/ptmx this process now sees (the target's
// devpts when its root was entered), sends the master to the caller, and makes the slave the
// controlling terminal and stdio.
func setupConsole(req execRequest) error {
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/ptmx: %w", err)
	}
	defer unix.Close(master)
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		return fmt.Errorf("unlock pty: %w", err)
	}
	slave, err := openPeer(master)
	if err != nil {
		return err
	}
	if req.Rows > 0 && req.Cols > 0 {
		if err := unix.IoctlSetWinsize(master, unix.TIOCSWINSZ, &unix.Winsize{Row: req.Rows, Col: req.Cols}); err != nil {
			return fmt.Errorf("set console size: %w", err)
		}
	}
	if err := unix.Sendmsg(requestFD, []byte(consoleMessage), unix.UnixRights(master), nil, 0); err != nil {
		return fmt.Errorf("send console: %w", err)
	}
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	if err := unix.IoctlSetInt(slave, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("set controlling terminal: %w", err)
	}
	for fd := 0; fd < 3; fd++ {
		if err := unix.Dup3(slave, fd, 0); err != nil {
			return fmt.Errorf("dup console to %d: %w", fd, err)
		}
	}
	unix.Close(slave)
	return nil
}

// openPeer opens the slave of master without a path (TIOCGPTPEER, Linux 4.13): a path under
// /dev/pts could be swapped by a process in the target between lookup and open.
func openPeer(master int) (int, error) {
	fd, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(master), unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	if errno == 0 {
		return int(fd), nil
	}
	n, err := unix.IoctlGetInt(master, unix.TIOCGPTN)
	if err != nil {
		return -1, fmt.Errorf("pty number: %w", err)
	}
	name := fmt.Sprintf("/dev/pts/%d", n)
	slave, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", name, err)
	}
	return slave, nil
}
