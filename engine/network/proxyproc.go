package network

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/glassbox/glassbox/internal/procfs"
	"golang.org/x/sys/unix"
)

// The loopback proxy runs as a process of its own per container with published ports, as
// docker-proxy does: `glassbox network-proxy` (a hidden re-exec entry) holding the bound host
// sockets, serving them to the container's address, for as long as a watched process (the
// container's shim) lives. It watches through a pidfd (pidfd_open(2)), which names that one
// process even if its PID is reused, and so ends by itself however the shim ends, SIGKILL
// included; Teardown ends it sooner.

// ProxyReexec is the hidden subcommand SpawnProxy runs and cmd/glassbox dispatches to ProxyMain.
const ProxyReexec = "network-proxy"

// SpawnProxy starts the proxy for ports (which stay the caller's to close) to containerIP,
// alive while the process of watchPidfd lives. exe is glassbox's own binary; logFile (may be
// nil) takes its stderr. It returns the proxy's PID and start time, for SetProxy.
func SpawnProxy(exe string, ports *Ports, containerIP netip.Addr, watchPidfd *os.File, logFile *os.File) (int, uint64, error) {
	files, err := ports.Files()
	if err != nil {
		return 0, 0, err
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	mappings, err := json.Marshal(ports.Mappings)
	if err != nil {
		return 0, 0, err
	}
	cmd := exec.Command(exe, ProxyReexec, "--ip", containerIP.String(), "--ports", string(mappings))
	cmd.ExtraFiles = append([]*os.File{watchPidfd}, files...) // fd 3: the pidfd, 4...: the sockets
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, 0, fmt.Errorf("start the port proxy: %w", err)
	}
	pid := cmd.Process.Pid
	go cmd.Wait() // reap it if this process outlives it
	return pid, procStartTime(pid), nil
}

// ProxyMain is the proxy process: `glassbox network-proxy --ip IP --ports JSON` with the pidfd
// to watch at fd 3 and the sockets from fd 4 on.
func ProxyMain(args []string) int {
	fs := flag.NewFlagSet(ProxyReexec, flag.ContinueOnError)
	ipText := fs.String("ip", "", "container address")
	portsJSON := fs.String("ports", "", "mappings, JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "glassbox %s: %v\n", ProxyReexec, err)
		return 1
	}
	ip, err := netip.ParseAddr(*ipText)
	if err != nil {
		return fail(fmt.Errorf("--ip: %w", err))
	}
	var mappings []PortMapping
	if err := json.Unmarshal([]byte(*portsJSON), &mappings); err != nil {
		return fail(fmt.Errorf("--ports: %w", err))
	}
	var files []*os.File
	for i := range mappings {
		files = append(files, os.NewFile(uintptr(4+i), "socket"))
	}
	ports, err := PortsFromFiles(mappings, files)
	for _, f := range files {
		f.Close() // PortsFromFiles dup'ed them
	}
	if err != nil {
		return fail(err)
	}
	signal.Ignore(syscall.SIGHUP, syscall.SIGINT, syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		waitPidfd(3)
		cancel()
	}()
	if err := Serve(ctx, ports, ip); err != nil {
		return fail(err)
	}
	return 0
}

// waitPidfd blocks until the process behind pidfd ends (the fd polls readable, pidfd_open(2)).
func waitPidfd(fd int) {
	for {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n > 0 {
			return
		}
	}
}

// PidfdOpen opens a pidfd for pid, for SpawnProxy's watchPidfd.
func PidfdOpen(pid int) (*os.File, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	return os.NewFile(uintptr(fd), fmt.Sprintf("pidfd:%d", pid)), nil
}

// SetProxy records the proxy serving a container's ports, for Teardown to end.
func (m *Manager) SetProxy(id string, pid int, start uint64) error {
	return m.locked(func(st *state) error {
		a, ok := st.Attachments[id]
		if !ok {
			return fmt.Errorf("container %s is not attached to %s", short(id), m.cfg.Bridge)
		}
		a.ProxyPid, a.ProxyStart = pid, start
		return nil
	})
}

// stopProxy kills the proxy if it is still the process recorded, and waits (briefly) until it
// has exited, so its host ports are free when Teardown returns: a process's files are closed
// before it becomes a zombie (do_exit), so "gone or zombie" is enough.
func stopProxy(pid int, start uint64) {
	if pid <= 0 || start == 0 || procStartTime(pid) != start {
		return
	}
	unix.Kill(pid, unix.SIGKILL)
	for range 200 {
		if st := procState(pid); st == 0 || st == 'Z' || st == 'X' || procStartTime(pid) != start {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// procStartTime is field 22 of /proc/PID/stat (proc(5)); 0 when the process is gone.
func procStartTime(pid int) uint64 {
	st, _ := procfs.ReadStat(pid)
	return st.StartTime()
}

// procState is field 3 of /proc/PID/stat; 0 when the process is gone.
func procState(pid int) byte {
	st, _ := procfs.ReadStat(pid)
	return st.State()
}
