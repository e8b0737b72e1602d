package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/runtime/nsenter"
	"github.com/glassbox/glassbox/internal/atomicfile"
)

// exitExecFailed is runc's status when exec cannot start the process ("exec failed: ...").
// podman reads the message to report 126 or 127 itself.
const exitExecFailed = 255

type execFlags struct {
	processPath   string
	consoleSocket string
	pidfdSocket   string
	pidFile       string
	cwd           string
	env           []string
	user          string
	groups        []string
	caps          []string
	tty           bool
	detach        bool
	noNewPrivs    bool
	ignorePaused  bool
	preserveFDs   int
	processLabel  string
	apparmor      string
	cgroup        string
}

func newOCIExecCmd(o *ociGlobals) *cobra.Command {
	e := &execFlags{}
	cmd := &cobra.Command{
		Use:   "exec [flags] CONTAINER [COMMAND [ARG...]]",
		Short: "Run a new process inside a container",
		Long: `Run a new process inside a running container: in its namespaces and cgroups, under its root,
as the user and with the capabilities, no_new_privs and seccomp filter of the process
described by --process (a runtime-spec process JSON) or, without it, of the container's own
config.json process with COMMAND and the flags below in place of its own.

Exits with the process's status (128+N for signal N); 255 when it could not be started.`,
		Example: `  glassbox oci exec mybox ps
  glassbox oci exec -t mybox sh
  glassbox oci exec -d --pid-file p --process proc.json mybox`,
		Args: ociArgs(1, -1),
		RunE: o.run(func(cmd *cobra.Command, args []string) error {
			return o.exec(cmd, e, args)
		}),
	}
	f := cmd.Flags()
	f.SetInterspersed(false) // everything after CONTAINER is the command's
	f.StringVarP(&e.processPath, "process", "p", "", "path to the process.json")
	f.StringVar(&e.consoleSocket, "console-socket", "", "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal")
	f.StringVar(&e.pidfdSocket, "pidfd-socket", "", "path to an AF_UNIX socket which will receive a file descriptor referencing the exec process (not supported)")
	f.StringVar(&e.pidFile, "pid-file", "", "specify the file to write the process id to")
	f.StringVar(&e.cwd, "cwd", "", "current working directory in the container")
	f.StringArrayVarP(&e.env, "env", "e", nil, "set environment variables")
	f.StringVarP(&e.user, "user", "u", "", "UID (format: <uid>[:<gid>])")
	f.StringSliceVarP(&e.groups, "additional-gids", "g", nil, "additional gids")
	f.StringSliceVarP(&e.caps, "cap", "c", nil, "add a capability to the bounding set for the process")
	f.BoolVarP(&e.tty, "tty", "t", false, "allocate a pseudo-TTY")
	f.BoolVarP(&e.detach, "detach", "d", false, "detach from the container's process")
	f.BoolVar(&e.noNewPrivs, "no-new-privs", false, "set the no new privileges value for the process")
	f.BoolVar(&e.ignorePaused, "ignore-paused", false, "allow exec in a paused container")
	f.IntVar(&e.preserveFDs, "preserve-fds", 0, "pass N additional file descriptors to the container: this process's 3 to 3+N-1, at the same numbers")
	f.StringVar(&e.processLabel, "process-label", "", "set the asm process label for the process commonly used with selinux")
	f.StringVar(&e.apparmor, "apparmor", "", "set the apparmor profile for the process")
	f.StringVar(&e.cgroup, "cgroup", "", "run the process in an (existing) sub-cgroup(s) (not supported)")
	return cmd
}

func (o *ociGlobals) exec(cmd *cobra.Command, e *execFlags, args []string) error {
	id := args[0]
	switch {
	case e.pidfdSocket != "":
		return errors.New("--pidfd-socket is not supported by glassbox")
	case e.cgroup != "":
		return errors.New("--cgroup: exec into a sub-cgroup is not supported by glassbox")
	}
	extra, err := preservedFiles(e.preserveFDs)
	if err != nil {
		return err
	}
	r, err := o.open()
	if err != nil {
		return err
	}
	st, err := r.State(id)
	if err != nil {
		return runtimeError(id, err)
	}
	switch {
	case st.Status == specs.StateStopped || st.Pid <= 0:
		return errors.New("cannot exec in a stopped container")
	case st.Status == "paused" && !e.ignorePaused:
		return errors.New("cannot exec in a paused container, use --ignore-paused to override")
	}
	spec, err := loadBundleSpec(st.Bundle)
	if err != nil {
		return err
	}
	proc, err := e.processSpec(spec, args[1:])
	if err != nil {
		return err
	}
	if proc.Terminal && e.detach && e.consoleSocket == "" {
		return errors.New("cannot allocate tty if runc will detach without setting console socket")
	}
	if !proc.Terminal && e.consoleSocket != "" {
		return errors.New("cannot use console socket if runc will not detach or allocate tty")
	}

	// Every namespace the init does not share with us, its cgroups, its root.
	target, err := nsenter.OpenTarget(st.Pid, nsenter.TargetOptions{Root: true, Cgroups: true})
	if err != nil {
		if errors.Is(err, nsenter.ErrNoProcess) {
			return errors.New("cannot exec in a stopped container")
		}
		return err
	}
	defer target.Close()
	p := nsenter.Process{Args: proc.Args, Env: proc.Env, Cwd: proc.Cwd, Tty: proc.Terminal, ExtraFiles: extra}
	if proc.ConsoleSize != nil {
		p.ConsoleSize = nsenter.Size{Rows: uint16(proc.ConsoleSize.Height), Cols: uint16(proc.ConsoleSize.Width)}
	}
	if !proc.Terminal {
		p.Stdin, p.Stdout, p.Stderr = os.Stdin, os.Stdout, os.Stderr
	}
	setExecSecurity(&p, proc, spec)
	running, err := target.Start(p)
	if err != nil {
		var ee *nsenter.ExecError
		if errors.As(err, &ee) {
			return exitStatus(exitExecFailed, fmt.Errorf("exec failed: unable to start container process: %s", ee.Msg))
		}
		return exitStatus(exitExecFailed, fmt.Errorf("exec failed: %w", err))
	}
	if e.pidFile != "" {
		if err := writePidFile(e.pidFile, running.Pid); err != nil {
			running.Signal(unix.SIGKILL)
			running.Wait()
			return err
		}
	}
	var console *consoleProxy
	if running.Console != nil {
		if e.consoleSocket != "" {
			err := sendConsole(e.consoleSocket, running.Console)
			running.Console.Close()
			if err != nil {
				running.Signal(unix.SIGKILL)
				running.Wait()
				return err
			}
		} else {
			console = proxyConsole(running.Console)
		}
	}
	if e.detach {
		// The process is this one's child: it is reparented (to conmon, a subreaper, or to
		// init) when this process exits, as runc's is.
		return nil
	}
	self, err := os.FindProcess(running.Pid)
	if err != nil {
		return err
	}
	stopSignals := forwardSignals(self, console)
	code, err := running.Wait()
	stopSignals()
	console.wait()
	if err != nil && code < 0 {
		return err
	}
	if code != 0 {
		return &statusError{status: code}
	}
	return nil
}

// processSpec is the process to run: --process's JSON, or the container's own process with
// the command line and flags in place of its own (runc's getProcess).
func (e *execFlags) processSpec(spec *specs.Spec, args []string) (*specs.Process, error) {
	if e.processPath != "" {
		data, err := os.ReadFile(e.processPath)
		if err != nil {
			return nil, err
		}
		var p specs.Process
		if err := json.Unmarshal(data, &p); err != nil {
			return nil, fmt.Errorf("parse %s: %w", e.processPath, err)
		}
		if len(p.Args) == 0 {
			return nil, fmt.Errorf("%s: args must not be empty", e.processPath)
		}
		e.setLabels(&p)
		return &p, nil
	}
	if len(args) == 0 {
		return nil, errors.New("exec args cannot be empty")
	}
	p := *spec.Process
	p.Args = args
	p.Terminal = e.tty
	p.ConsoleSize = nil
	if e.cwd != "" {
		p.Cwd = e.cwd
	}
	p.Env = append(append([]string(nil), p.Env...), e.env...)
	if e.user != "" {
		uidText, gidText, hasGID := strings.Cut(e.user, ":")
		uid, err := strconv.ParseUint(uidText, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("parsing %s as int for uid failed: %w", uidText, err)
		}
		p.User.UID = uint32(uid)
		if hasGID {
			gid, err := strconv.ParseUint(gidText, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("parsing %s as int for gid failed: %w", gidText, err)
			}
			p.User.GID = uint32(gid)
		}
	}
	for _, g := range e.groups {
		gid, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("invalid additional-gids value %s: %w", g, err)
		}
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(gid))
	}
	if len(e.caps) > 0 {
		c := specs.LinuxCapabilities{}
		if p.Capabilities != nil {
			c = *p.Capabilities
		}
		for _, name := range e.caps {
			name = strings.ToUpper(name)
			if !strings.HasPrefix(name, "CAP_") {
				name = "CAP_" + name
			}
			c.Bounding = append(append([]string(nil), c.Bounding...), name)
			c.Effective = append(append([]string(nil), c.Effective...), name)
			c.Permitted = append(append([]string(nil), c.Permitted...), name)
		}
		p.Capabilities = &c
	}
	if e.noNewPrivs {
		p.NoNewPrivileges = true
	}
	e.setLabels(&p)
	return &p, nil
}

// setLabels puts --apparmor and --process-label over the process's own, as runc's exec does.
func (e *execFlags) setLabels(p *specs.Process) {
	if e.apparmor != "" {
		p.ApparmorProfile = e.apparmor
	}
	if e.processLabel != "" {
		p.SelinuxLabel = e.processLabel
	}
}

// writePidFile writes pid the way runc does: to a temporary file renamed into place, so a
// reader never sees a partial number.
func writePidFile(path string, pid int) error {
	path, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, []byte(strconv.Itoa(pid)), 0o666, atomicfile.Atomic); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	return nil
}

// sendConsole hands a pty master to whoever listens on socketPath (SCM_RIGHTS), as runc does
// for --console-socket: the message is the file's name, the descriptor rides along.
func sendConsole(socketPath string, console *os.File) error {
	conn, err := net.Dial("unix", socketPath)
	if err != nil {
		return fmt.Errorf("connect to console socket %s: %w", socketPath, err)
	}
	defer conn.Close()
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("console socket %s: not a unix socket", socketPath)
	}
	name := console.Name()
	if _, _, err := uc.WriteMsgUnix([]byte(name), unix.UnixRights(int(console.Fd())), nil); err != nil {
		return fmt.Errorf("send console to %s: %w", socketPath, err)
	}
	return nil
}
