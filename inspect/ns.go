package inspect

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// NamespaceTypes are the entries of /proc/PID/ns (namespaces(7)), in the order shown.
var NamespaceTypes = []string{"cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "time",
	"time_for_children", "user", "uts"}

// Namespace is one of a process's namespaces.
type Namespace struct {
	Type  string `json:"type"`
	Inode uint64 `json:"inode"`
	// Host is true when the host (PID 1, or kthreadd where PID 1 cannot be read) has the same
	// namespace: shared with the host rather than new.
	Host bool `json:"host"`
	// Error says why this entry could not be read (the process is gone, permission denied);
	// the other entries are still given.
	Error string `json:"error,omitempty"`
}

// nsInode reads the inode from /proc/PID/ns/TYPE's link text "TYPE:[INODE]".
func (h Host) nsInode(pid int, typ string) (uint64, error) {
	link, err := os.Readlink(h.procPath(pid, "ns/"+typ))
	if err != nil {
		if gone(err) {
			if _, serr := os.Stat(h.procPath(pid, "")); serr != nil {
				return 0, fmt.Errorf("readlink /proc/%d/ns/%s: %w", pid, typ, ErrGone)
			}
			// The process is there but has no such namespace type (an old kernel).
		}
		return 0, fmt.Errorf("readlink /proc/%d/ns/%s: %w", pid, typ, err)
	}
	return parseNSLink(link)
}

func parseNSLink(link string) (uint64, error) {
	_, rest, ok := strings.Cut(link, ":[")
	if !ok || !strings.HasSuffix(rest, "]") {
		return 0, fmt.Errorf("namespace link %q: not TYPE:[INODE]", link)
	}
	return strconv.ParseUint(strings.TrimSuffix(rest, "]"), 10, 64)
}

// hostNamespaces reads the reference namespaces: PID 1's, or kthreadd's (PID 2, always in
// the initial namespaces) where PID 1 refuses (a hardened or foreign init).
func (h Host) hostNamespaces() map[string]uint64 {
	for _, pid := range []int{1, 2} {
		m := map[string]uint64{}
		for _, typ := range NamespaceTypes {
			if ino, err := h.nsInode(pid, typ); err == nil {
				m[typ] = ino
			}
		}
		if len(m) > 0 {
			return m
		}
	}
	return nil
}

// Namespaces reads every namespace of pid. Entries that cannot be read carry their error;
// the error returned is ErrGone-wrapped when the process has gone.
func (h Host) Namespaces(pid int) ([]Namespace, error) {
	host := h.hostNamespaces()
	out := make([]Namespace, 0, len(NamespaceTypes))
	read := 0
	var first error
	for _, typ := range NamespaceTypes {
		ns := Namespace{Type: typ}
		ino, err := h.nsInode(pid, typ)
		if err != nil {
			ns.Error = err.Error()
			if first == nil {
				first = err
			}
		} else {
			read++
			ns.Inode = ino
			ns.Host = host[typ] == ino
		}
		out = append(out, ns)
	}
	if read == 0 {
		return out, first
	}
	return out, nil
}
