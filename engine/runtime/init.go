package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/runtime/lsm"
	"github.com/glassbox/glassbox/engine/runtime/sched"
	"github.com/glassbox/glassbox/engine/trace"
)

// InitMain is the container's init (the InitEntry re-exec): nsenter's constructor has put it
// in the container's namespaces and cgroups already. It sets up the container, reports to the
// parent, waits on the exec fifo and executes the program. It returns only on failure.
func InitMain(args []string) int {
	// Capabilities, credentials and no_new_privs below are per thread: the thread that sets
	// them is the one that execs.
	goruntime.LockOSThread()
	// The one argument is how many preserved descriptors come before the sync socket.
	preserved := 0
	if len(args) == 1 {
		preserved, _ = strconv.Atoi(args[0])
	}
	syncFD := initSyncFD(preserved)
	var cfg initConfig
	if _, err := recvMessage(syncFD, &cfg); err != nil || cfg.Spec == nil || cfg.PreserveFDs != preserved {
		fmt.Fprintf(os.Stderr, "glassbox: %s is started by glassbox itself, not by hand (%v)\n", InitEntry, err)
		return 125
	}
	in := &initProcess{cfg: cfg, spec: cfg.Spec, rec: trace.New(time.Unix(0, cfg.Origin)), syncFD: syncFD}
	if err := in.setup(); err != nil {
		kind := ""
		switch {
		case errors.Is(err, ErrNotFound):
			kind = "notfound"
		case errors.Is(err, ErrNotExecutable):
			kind = "notexec"
		}
		sendMessage(syncFD, initMessage{Type: msgError, Error: err.Error(), Kind: kind, Steps: in.rec.Steps()}, nil)
		return 125
	}
	if err := sendMessage(syncFD, initMessage{Type: msgReady, Steps: in.rec.Steps()}, nil); err != nil {
		return 125
	}
	unix.Close(syncFD)
	err := in.exec()
	fmt.Fprintf(os.Stderr, "glassbox: init: %v\n", err)
	if errors.Is(err, ErrNotFound) {
		return 127
	}
	return 126
}

type initProcess struct {
	cfg  initConfig
	spec *specs.Spec
	rec  *trace.Recorder
	path string // the program, resolved
	// syncFD is the sync socket's descriptor (after the preserved ones).
	syncFD int
	// seccompLate: the filter goes on right before execve (with no_new_privs it needs no
	// privilege); without no_new_privs it must go on while CAP_SYS_ADMIN is still held.
	seccompLate bool
}

// setup runs every step up to the wait for Start, in runc's order.
func (in *initProcess) setup() error {
	s := in.spec
	if err := in.setupRootfs(); err != nil {
		return err
	}
	if in.cfg.NewNS["uts"] {
		if err := in.step("hostname", s.Hostname, func() error {
			if s.Hostname == "" {
				return nil
			}
			return wrap("sethostname", unix.Sethostname([]byte(s.Hostname)))
		}); err != nil {
			return err
		}
		if s.Domainname != "" {
			if err := in.step("domainname", s.Domainname, func() error {
				return wrap("setdomainname", unix.Setdomainname([]byte(s.Domainname)))
			}); err != nil {
				return err
			}
		}
	}
	if !in.cfg.NoNewKeyring {
		// A session keyring of its own, so the container cannot read the host's keys
		// (keyrings(7)); some kernels refuse it inside a user namespace: runc ignores that.
		done := in.rec.Begin("keyring", "join session keyring _ses."+in.cfg.State.ID)
		_, err := unix.KeyctlJoinSessionKeyring("_ses." + in.cfg.State.ID)
		done(err)
	}
	if s.Process.Terminal {
		if err := in.setupConsole(); err != nil {
			return err
		}
	}
	if err := in.setSysctls(); err != nil {
		return err
	}
	if err := in.finalizeRootfs(); err != nil {
		return err
	}
	if err := in.setRlimits(); err != nil {
		return err
	}
	if err := in.step("chdir", s.Process.Cwd, func() error {
		if err := os.MkdirAll(s.Process.Cwd, 0o755); err != nil {
			return err
		}
		return wrap("chdir "+s.Process.Cwd, unix.Chdir(s.Process.Cwd))
	}); err != nil {
		return fmt.Errorf("process.cwd: %w", err)
	}
	if err := in.finalizeProcess(); err != nil {
		return err
	}
	return nil
}

// finalizeProcess drops to the spec's process: bounding set, user, capabilities,
// no_new_privs; then it finds the program as the user would (runc finds it here too, so a
// missing program fails Create with 127).
func (in *initProcess) finalizeProcess() error {
	p := in.spec.Process
	// The module's exec attribute first, while the init still has every privilege, as runc
	// does (checkSpec refused the spec on a host without the module).
	if p.ApparmorProfile != "" {
		if err := in.step("apparmor", "exec "+p.ApparmorProfile, func() error {
			return lsm.SetExec(lsm.AppArmor, p.ApparmorProfile)
		}); err != nil {
			return fmt.Errorf("process.apparmorProfile: %w", err)
		}
	}
	if p.SelinuxLabel != "" {
		if err := in.step("selinux", p.SelinuxLabel, func() error {
			return lsm.SetExec(lsm.SELinux, p.SelinuxLabel)
		}); err != nil {
			return fmt.Errorf("process.selinuxLabel: %w", err)
		}
	}
	// Scheduling and I/O priority while CAP_SYS_NICE is still held (a real-time policy needs
	// it); the program inherits both through execve (sched(7), ioprio_set(2)).
	if p.Scheduler != nil {
		attr, _ := sched.Attr("process.scheduler", p.Scheduler) // checked by checkSpec
		if err := in.step("scheduler", schedDetail(p.Scheduler), func() error { return sched.Apply(attr) }); err != nil {
			return fmt.Errorf("process.scheduler: %w", err)
		}
	}
	if p.IOPriority != nil {
		v, _ := sched.IOPrio("process.ioPriority", p.IOPriority)
		if err := in.step("ioprio", fmt.Sprintf("%s %d", p.IOPriority.Class, p.IOPriority.Priority), func() error { return sched.SetIOPrio(v) }); err != nil {
			return fmt.Errorf("process.ioPriority: %w", err)
		}
	}
	in.seccompLate = p.NoNewPrivileges
	if in.spec.Linux.Seccomp != nil && !in.seccompLate {
		if err := in.step("seccomp", seccompDetail(in.spec.Linux.Seccomp), func() error {
			return applySeccomp(in.spec.Linux.Seccomp)
		}); err != nil {
			return fmt.Errorf("linux.seccomp: %w", err)
		}
	}
	if err := dropBoundingSet(in.rec, p.Capabilities); err != nil {
		return err
	}
	setgroupsAllowed := !in.cfg.NewNS["user"] // a new user namespace has setgroups denied
	if err := setUser(in.rec, p.User, setgroupsAllowed); err != nil {
		return fmt.Errorf("process.user: %w", err)
	}
	if err := setCapabilities(in.rec, p.Capabilities); err != nil {
		return err
	}
	if p.NoNewPrivileges {
		if err := in.step("no_new_privs", "prctl PR_SET_NO_NEW_PRIVS 1", func() error {
			return wrap("prctl PR_SET_NO_NEW_PRIVS", unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		}); err != nil {
			return err
		}
	}
	done := in.rec.Begin("lookup", p.Args[0])
	path, err := lookPath(p.Args[0], p.Env)
	done(err)
	if err != nil {
		return err
	}
	in.path = path
	return nil
}

// exec waits for Start on the exec fifo, then executes the program. Only stdio and what the
// spec asks for reach it: every other descriptor is close-on-exec (CVE-2024-21626).
func (in *initProcess) exec() error {
	// nsenter's constructor made the init non-dumpable, which makes /proc/self/fd root's and
	// closed to a non-root user: it must be dumpable to reopen the fifo. execve makes it so
	// anyway; until then no other process of the container exists, and the binary it runs
	// cannot be written (exe.go).
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl PR_SET_DUMPABLE: %w", err)
	}
	fifoFD := initFifoFD(in.cfg.PreserveFDs)
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(fifoFD), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	if _, err := unix.Write(fd, []byte{0}); err != nil {
		return fmt.Errorf("write exec fifo: %w", err)
	}
	unix.Close(fd)
	unix.Close(fifoFD)
	if h := in.spec.Hooks; h != nil && len(h.StartContainer) > 0 && runHooks != nil {
		st := in.cfg.State
		st.Status = StatusRunning
		if err := runHooks(context.Background(), h.StartContainer, st); err != nil {
			return fmt.Errorf("startContainer hook: %w", err)
		}
	}
	if err := keepPreserved(in.cfg.PreserveFDs); err != nil {
		return err
	}
	closeExecFrom(3 + in.cfg.PreserveFDs)
	if in.spec.Linux.Seccomp != nil && in.seccompLate {
		if err := applySeccomp(in.spec.Linux.Seccomp); err != nil {
			return fmt.Errorf("linux.seccomp: %w", err)
		}
	}
	err = unix.Exec(in.path, in.spec.Process.Args, in.spec.Process.Env)
	return execError(in.path, err)
}

func schedDetail(s *specs.Scheduler) string {
	return fmt.Sprintf("%s nice %d priority %d flags %v", s.Policy, s.Nice, s.Priority, s.Flags)
}

func seccompDetail(s *specs.LinuxSeccomp) string {
	return fmt.Sprintf("default %s, %d rules", s.DefaultAction, len(s.Syscalls))
}

// step runs f as a named trace step.
func (in *initProcess) step(name, detail string, f func() error) error {
	done := in.rec.Begin(name, detail)
	err := f()
	done(err)
	return err
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", op, err)
}

func (in *initProcess) setSysctls() error {
	for name, value := range in.spec.Linux.Sysctl {
		p := "/proc/sys/" + strings.ReplaceAll(name, ".", "/")
		if err := in.step("sysctl", p+" = "+value, func() error {
			return writeSysctl(p, value)
		}); err != nil {
			return fmt.Errorf("linux.sysctl: %w", err)
		}
	}
	return nil
}

// writeSysctl writes a file of /proc/sys on the container's procfs and nowhere else
// (lsm.WriteProc).
func writeSysctl(p, value string) error { return lsm.WriteProc(p, value) }

func (in *initProcess) setRlimits() error {
	for _, r := range in.spec.Process.Rlimits {
		lim := unix.Rlimit{Cur: r.Soft, Max: r.Hard}
		if err := in.step("rlimit", fmt.Sprintf("%s soft %d hard %d", r.Type, r.Soft, r.Hard), func() error {
			return wrap("prlimit "+r.Type, unix.Prlimit(0, rlimitNames[r.Type], &lim, nil))
		}); err != nil {
			return fmt.Errorf("process.rlimits: %w", err)
		}
	}
	return nil
}

// lookPath finds the program as execvp(3) would with the process's PATH, and tells a missing
// program (ErrNotFound) from one that cannot be executed (ErrNotExecutable).
func lookPath(file string, env []string) (string, error) {
	check := func(p string) error {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			return fmt.Errorf("exec %s: %w: %w", p, err, ErrNotFound)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return fmt.Errorf("exec %s: is a directory: %w", p, ErrNotExecutable)
		}
		if err := unix.Access(p, unix.X_OK); err != nil {
			return fmt.Errorf("exec %s: %w: %w", p, err, ErrNotExecutable)
		}
		return nil
	}
	if strings.Contains(file, "/") {
		return file, check(file)
	}
	search := defaultPath
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			search = v
		}
	}
	var denied error
	for _, dir := range strings.Split(search, ":") {
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + file
		err := check(p)
		if err == nil {
			return p, nil
		}
		if errors.Is(err, ErrNotExecutable) && denied == nil {
			denied = err
		}
	}
	if denied != nil {
		return "", denied
	}
	return "", fmt.Errorf("exec %q: executable file not found in $PATH: %w", file, ErrNotFound)
}

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func execError(path string, err error) error {
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return fmt.Errorf("exec %s: %w: %w", path, err, ErrNotFound)
	}
	return fmt.Errorf("exec %s: %w: %w", path, err, ErrNotExecutable)
}

// keepPreserved clears close-on-exec on descriptors 3 to 3+n-1, the caller's preserved ones
// (nsenter's constructor marked every descriptor it got close-on-exec).
func keepPreserved(n int) error {
	for fd := 3; fd < 3+n; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
			return fmt.Errorf("preserved descriptor %d: fcntl F_SETFD: %w", fd, err)
		}
	}
	return nil
}

// closeExecFrom marks every descriptor from fd up close-on-exec.
func closeExecFrom(fd int) {
	if err := unix.CloseRange(uint(fd), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err == nil {
		return
	}
	entries, _ := os.ReadDir("/proc/self/fd")
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil && n >= fd {
			unix.CloseOnExec(n)
		}
	}
}
