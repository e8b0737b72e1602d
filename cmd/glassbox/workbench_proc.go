package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/glassbox/glassbox/tui"
)

// procInspector reads namespaces, processes, mounts and security settings from /proc for the
// workbench's tabs. It stands in for package inspect until that lands; the workbench only
// sees tui.Inspector.
type procInspector struct{ proc string }

// nsTypes are the namespace files of /proc/PID/ns, in the order the tab lists them.
var nsTypes = []string{"cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "time", "time_for_children", "user", "uts"}

func (p procInspector) nsInode(pid, typ string) (uint64, error) {
	link, err := os.Readlink(filepath.Join(p.proc, pid, "ns", typ))
	if err != nil {
		return 0, err
	}
	// "net:[4026531840]"
	_, rest, ok := strings.Cut(link, ":[")
	if !ok {
		return 0, fmt.Errorf("readlink %s/ns/%s: unexpected %q", pid, typ, link)
	}
	return strconv.ParseUint(strings.TrimSuffix(rest, "]"), 10, 64)
}

func (p procInspector) pids() ([]string, error) {
	ents, err := os.ReadDir(p.proc)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

func (p procInspector) Namespaces(ctx context.Context, pid int) ([]tui.Namespace, error) {
	self := strconv.Itoa(pid)
	var out []tui.Namespace
	for _, typ := range nsTypes {
		ino, err := p.nsInode(self, typ)
		if err != nil {
			if os.IsNotExist(err) && typ != "pid" && typ != "mnt" {
				continue // an older kernel without this type
			}
			return nil, fmt.Errorf("namespaces of %d: %w", pid, err)
		}
		// The host's namespaces are PID 1's; inside a sandbox that hides PID 1's, compare
		// with glassbox's own and say so.
		hostRef := "PID 1"
		host, err := p.nsInode("1", typ)
		if err != nil {
			hostRef = "glassbox"
			host, _ = p.nsInode("self", typ)
		}
		out = append(out, tui.Namespace{Type: typ, Inode: ino, HostInode: host, HostRef: hostRef})
	}
	// Who shares each: one pass over the host's processes (those that vanish meanwhile are skipped).
	pids, err := p.pids()
	if err != nil {
		return nil, err
	}
	for _, other := range pids {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		for i := range out {
			if ino, err := p.nsInode(other, out[i].Type); err == nil && ino == out[i].Inode {
				out[i].Sharers++
			}
		}
	}
	return out, nil
}

// status reads the fields of /proc/PID/status.
func (p procInspector) status(pid string) (map[string]string, error) {
	f, err := os.Open(filepath.Join(p.proc, pid, "status"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m, sc.Err()
}

// Processes lists the processes in pid's pid namespace (and namespaces below it).
func (p procInspector) Processes(ctx context.Context, pid int) ([]tui.Process, error) {
	self := strconv.Itoa(pid)
	pidNS, err := p.nsInode(self, "pid")
	if err != nil {
		return nil, fmt.Errorf("processes of %d: %w", pid, err)
	}
	pids, err := p.pids()
	if err != nil {
		return nil, err
	}
	var out []tui.Process
	for _, other := range pids {
		if ino, err := p.nsInode(other, "pid"); err != nil || ino != pidNS {
			continue
		}
		st, err := p.status(other)
		if err != nil {
			continue // gone
		}
		hostPID, _ := strconv.Atoi(other)
		ppid, _ := strconv.Atoi(st["PPid"])
		nspid := strings.Fields(st["NSpid"])
		cpid := hostPID
		if len(nspid) > 0 {
			cpid, _ = strconv.Atoi(nspid[len(nspid)-1])
		}
		uid := strings.Fields(st["Uid"])
		user := ""
		if len(uid) > 1 {
			user = uid[1]
		}
		cmd, _ := os.ReadFile(filepath.Join(p.proc, other, "cmdline"))
		command := strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))
		if command == "" {
			command = "[" + st["Name"] + "]"
		}
		state, _, _ := strings.Cut(st["State"], " ")
		out = append(out, tui.Process{HostPID: hostPID, ContainerPID: cpid, PPID: ppid, State: state, User: user, Command: command})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ContainerPID < out[j].ContainerPID })
	return out, nil
}

func (p procInspector) Mounts(ctx context.Context, pid int) ([]tui.Mount, error) {
	b, err := os.ReadFile(filepath.Join(p.proc, strconv.Itoa(pid), "mountinfo"))
	if err != nil {
		return nil, fmt.Errorf("mounts of %d: %w", pid, err)
	}
	var out []tui.Mount
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		// proc(5): id parent major:minor root target options [optional...] - fstype source superoptions
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 6 || len(g) < 2 {
			continue
		}
		out = append(out, tui.Mount{Target: unescapeMount(f[4]), Options: f[5], FSType: g[0], Source: unescapeMount(g[1])})
	}
	return out, nil
}

// unescapeMount undoes mountinfo's octal escapes of space, tab, newline and backslash.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (p procInspector) Security(ctx context.Context, pid int) (tui.Security, error) {
	self := strconv.Itoa(pid)
	st, err := p.status(self)
	if err != nil {
		return tui.Security{}, fmt.Errorf("security of %d: %w", pid, err)
	}
	s := tui.Security{
		Effective:  capNames(st["CapEff"]),
		Bounding:   capNames(st["CapBnd"]),
		NoNewPrivs: st["NoNewPrivs"] == "1",
		Files:      []string{filepath.Join(p.proc, self, "status")},
	}
	switch st["Seccomp"] {
	case "0":
		s.Seccomp = "disabled"
	case "1":
		s.Seccomp = "strict"
	case "2":
		s.Seccomp = "filter"
		if n := st["Seccomp_filters"]; n != "" {
			s.Seccomp += " (" + n + " filters)"
		}
	default:
		s.Seccomp = "unknown"
	}
	read := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(p.proc, self, name))
		return strings.Join(strings.Fields(string(b)), " ")
	}
	s.UIDMap, s.GIDMap = read("uid_map"), read("gid_map")
	s.LSM = strings.TrimRight(read("attr/current"), "\x00")
	return s, nil
}

// capNames decodes a capability mask ("00000000a80425fb") into capabilities(7) names.
func capNames(hex string) []string {
	mask, err := strconv.ParseUint(hex, 16, 64)
	if err != nil {
		return nil
	}
	var out []string
	for i := 0; i < 64; i++ {
		if mask&(1<<i) == 0 {
			continue
		}
		if i < len(capabilityNames) {
			out = append(out, capabilityNames[i])
		} else {
			out = append(out, fmt.Sprintf("cap_%d", i))
		}
	}
	return out
}

// capabilityNames are the capabilities by number (linux/capability.h).
var capabilityNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
	"CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
	"CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}
