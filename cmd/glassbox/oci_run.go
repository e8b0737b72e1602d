package main

import (
	"errors"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/glassbox/glassbox/engine/runtime/nsenter"
)

func newOCIRunCmd(o *ociGlobals) *cobra.Command {
	c := &createFlags{}
	var detach, keep, noSubreaper bool
	cmd := &cobra.Command{
		Use:   "run [flags] CONTAINER",
		Short: "Create and start a container, wait for it and delete it; exits with its status",
		Long: `Create and start a container from the bundle, then wait for its process and exit with its
status (128+N when signal N ended it), and delete the container (unless --keep). Signals this
command receives go to the container's process. With process.terminal and no --console-socket,
the container's terminal is this one (raw mode while it runs). --detach returns once the
process has started.`,
		Args: ociArgs(1, 1),
		RunE: o.run(func(cmd *cobra.Command, args []string) error {
			id, err := idArg(args)
			if err != nil {
				return err
			}
			if err := o.needCgroupfs(); err != nil {
				return err
			}
			if detach && keep {
				return errors.New("--detach and --keep cannot both be set")
			}
			opts, _, err := c.options(detach)
			if err != nil {
				return err
			}
			r, err := o.open()
			if err != nil {
				return err
			}
			// Not detached, not kept, no descriptors handed on: a run nsenter/runc.c can do from
			// the run cache next time (its entry holds no --preserve-fds).
			opts.RunCache = !detach && !keep && opts.IO.Stdin != nil && len(opts.ExtraFiles) == 0
			markRun()
			ctr, err := r.Create(ctxOf(cmd), id, opts)
			if err != nil {
				return runtimeError(id, err)
			}
			if detach {
				if err := r.Start(id); err != nil {
					r.Delete(id, true)
					return runtimeError(id, err)
				}
				return nil
			}
			var console *consoleProxy
			if ctr.Console != nil {
				console = proxyConsole(ctr.Console)
			}
			process := ctr.Process
			if process == nil {
				if process, err = os.FindProcess(ctr.Pid); err != nil {
					return err
				}
			}
			stopSignals := forwardSignals(process, console)
			if err := r.Start(id); err != nil {
				stopSignals()
				console.close()
				r.Delete(id, true)
				return runtimeError(id, err)
			}
			code, waitErr := waitProcess(ctr.Process, ctr.Pid)
			stopSignals()
			console.wait()
			if !keep {
				// runc destroys the container once its process is gone, killing what it left.
				if err := r.Delete(id, true); err != nil {
					o.log.Warn("delete after run", "id", id, "err", err)
				}
			}
			if waitErr != nil {
				return waitErr
			}
			if code != 0 {
				return &statusError{status: code}
			}
			return nil
		}),
	}
	c.add(cmd)
	f := cmd.Flags()
	f.BoolVarP(&detach, "detach", "d", false, "detach from the container's process")
	f.BoolVar(&keep, "keep", false, "do not delete the container after it exits")
	f.BoolVar(&noSubreaper, "no-subreaper", false, "disable the use of the subreaper used to reap reparented processes")
	return cmd
}

// markRun tells a test which path ran this `oci run`: runc.c writes "c" there, Go "go".
func markRun() {
	if p := os.Getenv("GLASSBOX_RUN_TRACE"); p != "" {
		if f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err == nil {
			f.WriteString("go\n")
			f.Close()
		}
	}
}

// waitProcess waits for the container's process and returns its status as a shell reports
// it (128+N for signal N). A process that is not this one's child (the runtime made it
// elsewhere) is waited for through a pidfd; its status is then unknown and reported as 0.
func waitProcess(p *os.Process, pid int) (int, error) {
	if p != nil {
		state, err := p.Wait()
		if err != nil {
			return -1, err
		}
		return nsenter.ExitCode(state), nil
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if err == unix.ESRCH {
			return 0, nil
		}
		return -1, err
	}
	defer unix.Close(fd)
	for {
		_, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, -1)
		if err != unix.EINTR {
			return 0, err
		}
	}
}

// forwardSignals sends the signals this process gets to the container's process, as runc's
// signal handler does; SIGWINCH resizes the console instead. It returns the function that
// stops forwarding.
func forwardSignals(p *os.Process, console *consoleProxy) func() {
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH, syscall.SIGCONT, syscall.SIGALRM)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case s := <-sigs:
				if s == syscall.SIGWINCH {
					console.resize()
					continue
				}
				p.Signal(s)
			}
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
		wg.Wait()
	}
}

// consoleProxy joins a container's pty master to this process's stdio: the caller's
// terminal in raw mode, so that keys reach the container as typed.
type consoleProxy struct {
	master  *os.File
	restore func()
	output  chan struct{}
}

func proxyConsole(master *os.File) *consoleProxy {
	p := &consoleProxy{master: master, restore: func() {}, output: make(chan struct{})}
	if fd := int(os.Stdin.Fd()); term.IsTerminal(fd) {
		if state, err := term.MakeRaw(fd); err == nil {
			p.restore = func() { term.Restore(fd, state) }
		}
		p.resize()
	}
	go io.Copy(master, os.Stdin) // ends with this process: a read of stdin cannot be cancelled
	go func() {
		io.Copy(os.Stdout, master) // ends with EIO once the last holder of the slave is gone
		close(p.output)
	}()
	return p
}

// resize gives the container's terminal this terminal's size.
func (p *consoleProxy) resize() {
	if p == nil {
		return
	}
	if size, err := pty.GetsizeFull(os.Stdin); err == nil {
		pty.Setsize(p.master, size)
	}
}

// wait lets the output drain once the process has exited: a process the container left
// behind may hold the terminal open, so it waits a moment, not forever.
func (p *consoleProxy) wait() {
	if p == nil {
		return
	}
	select {
	case <-p.output:
	case <-time.After(2 * time.Second):
	}
	p.close()
}

func (p *consoleProxy) close() {
	if p == nil {
		return
	}
	p.restore()
	p.master.Close()
}
