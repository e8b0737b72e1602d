package engine

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/state"
)

// Top lists the processes of a running container: every process in its init's PID namespace
// (the init first), with its PID there and here, its user and its command line.
func (e *Engine) Top(ctx context.Context, ref string) ([]ContainerProcess, error) {
	st, id, err := e.lookup(ref)
	if err != nil {
		return nil, err
	}
	rec, err := e.refresh(st, id)
	if err != nil {
		return nil, err
	}
	if rec.Status != state.Running || rec.Pid <= 0 {
		return nil, wrapKind(fmt.Errorf("container %s is not running", rec.Name), ErrConflict)
	}
	pidNS, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", rec.Pid))
	if err != nil {
		return nil, wrapKind(fmt.Errorf("container %s is not running: %w", rec.Name, err), ErrConflict)
	}
	names := passwdNames(rec.Pid)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var procs []ContainerProcess
	hostToNS := map[int]int{}
	parents := map[int]int{}
	for _, ent := range entries {
		hostPID, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		// A process that exits while it is read is left out: the list is a snapshot.
		if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", hostPID)); err != nil || ns != pidNS {
			continue
		}
		p, ppid, ok := readProcess(hostPID)
		if !ok {
			continue
		}
		if name, ok := names[p.UID]; ok {
			p.User = name
		} else {
			p.User = strconv.Itoa(p.UID)
		}
		hostToNS[hostPID] = p.PID
		parents[hostPID] = ppid
		procs = append(procs, p)
	}
	for i := range procs {
		procs[i].PPID = hostToNS[parents[procs[i].HostPID]]
	}
	sort.Slice(procs, func(i, j int) bool { return procs[i].PID < procs[j].PID })
	return procs, nil
}

// readProcess reads /proc/PID/status and cmdline: the PID in the innermost namespace
// (NSpid's last field), the parent's host PID, the real UID, the state and the command.
func readProcess(hostPID int) (p ContainerProcess, ppid int, ok bool) {
	p.HostPID = hostPID
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", hostPID))
	if err != nil {
		return p, 0, false
	}
	var comm string
	for _, line := range strings.Split(string(status), "\n") {
		k, v, _ := strings.Cut(line, ":")
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		switch k {
		case "Name":
			comm = strings.TrimSpace(v)
		case "State":
			p.State = f[0]
		case "PPid":
			ppid, _ = strconv.Atoi(f[0])
		case "Uid":
			p.UID, _ = strconv.Atoi(f[0])
		case "NSpid":
			p.PID, _ = strconv.Atoi(f[len(f)-1])
		}
	}
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", hostPID))
	p.Command = strings.Join(strings.Fields(strings.ReplaceAll(string(bytes.TrimRight(cmdline, "\x00")), "\x00", " ")), " ")
	if p.Command == "" {
		p.Command = "[" + comm + "]"
	}
	return p, ppid, p.PID > 0
}

// passwdNames maps UIDs to names from the container's /etc/passwd, opened inside the init's
// root (RESOLVE_IN_ROOT: the image's symlinks cannot lead to the host's).
func passwdNames(pid int) map[int]string {
	names := map[int]string{}
	root, err := unix.Open(fmt.Sprintf("/proc/%d/root", pid), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return names
	}
	defer unix.Close(root)
	fd, err := unix.Openat2(root, "etc/passwd", &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK | unix.O_NOCTTY,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return names
	}
	f := os.NewFile(uintptr(fd), "passwd")
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return names
	}
	sc := bufio.NewScanner(io.LimitReader(f, 4<<20))
	for sc.Scan() {
		row := strings.Split(sc.Text(), ":")
		if len(row) < 3 {
			continue
		}
		if uid, err := strconv.Atoi(row[2]); err == nil {
			if _, dup := names[uid]; !dup {
				names[uid] = row[0]
			}
		}
	}
	return names
}
