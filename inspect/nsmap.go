package inspect

import (
	"errors"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// MapTypes are the namespace types of the machine map: the eight kinds a process is in (the
// *_for_children links name what its next children get, not where it is), as lsns(8) lists.
var MapTypes = []string{"mnt", "net", "time", "cgroup", "pid", "user", "uts", "ipc"}

// NamespaceInfo is one namespace on the machine.
type NamespaceInfo struct {
	Type   string `json:"type"`
	Inode  uint64 `json:"ns"`
	NProcs int    `json:"nprocs"`
	PIDs   []int  `json:"pids"`
	// PID and Command are its lowest process, the one shown for it (lsns does the same).
	PID     int    `json:"pid"`
	Command string `json:"command"`
	UID     uint32 `json:"uid"`
	Host    bool   `json:"host"`
	// Parent is the parent namespace for pid and user namespaces (NS_GET_PARENT; 0 at the top);
	// Owner is the user namespace that owns it (NS_GET_USERNS; 0 for the initial one or unknown).
	Parent    uint64     `json:"parent,omitempty"`
	Owner     uint64     `json:"owner,omitempty"`
	Container *Container `json:"container,omitempty"`
	Error     string     `json:"error,omitempty"`
	// Children are the namespaces below this one in the tree (Tree only).
	Children []*NamespaceInfo `json:"children,omitempty"`
}

// NamespaceMap is every namespace the machine's processes are in.
type NamespaceMap struct {
	Namespaces []*NamespaceInfo `json:"namespaces"`
	// Gone counts processes that exited while the map was read; they are left out.
	Gone int `json:"gone"`
}

// NamespaceMap reads every process's namespaces in one pass over /proc and groups them.
func (h Host) NamespaceMap() (*NamespaceMap, error) {
	pids, err := h.Pids()
	if err != nil {
		return nil, err
	}
	host := h.hostNamespaces()
	type key struct {
		typ string
		ino uint64
	}
	byKey := map[key]*NamespaceInfo{}
	procs := map[int]Process{}
	m := &NamespaceMap{}
	for _, pid := range pids {
		inos := make(map[string]uint64, len(MapTypes))
		vanished := false
		for _, typ := range MapTypes {
			ino, err := h.nsInode(pid, typ)
			if err != nil {
				if errors.Is(err, ErrGone) {
					vanished = true
					break
				}
				// Permission denied, or a zombie whose namespaces but its pid and user ones are
				// released: this process is not counted for this type (as lsns does).
				continue
			}
			inos[typ] = ino
		}
		if vanished {
			m.Gone++
			continue
		}
		pr, err := h.Process(pid)
		if err != nil {
			m.Gone++
			continue
		}
		procs[pid] = pr
		for _, typ := range MapTypes {
			ino, ok := inos[typ]
			if !ok {
				continue
			}
			k := key{typ, ino}
			ns := byKey[k]
			if ns == nil {
				ns = &NamespaceInfo{Type: typ, Inode: ino, PID: pid, Command: commandOf(pr), UID: pr.UID,
					Host: host[typ] == ino}
				byKey[k] = ns
				m.Namespaces = append(m.Namespaces, ns)
			}
			ns.NProcs++
			ns.PIDs = append(ns.PIDs, pid)
		}
	}
	rel := newNSRelations()
	for _, ns := range m.Namespaces {
		if ns.Type == "pid" || ns.Type == "user" {
			p, err := rel.parentOf(h, ns.PID, ns.Type, ns.Inode)
			if err != nil {
				ns.Error = err.Error()
			}
			ns.Parent = p
		}
		if o, err := rel.ownerOf(h, ns.PID, ns.Type, ns.Inode); err == nil {
			ns.Owner = o
		} else if ns.Error == "" {
			ns.Error = err.Error()
		}
		if !ns.Host {
			ns.Container = h.Label(ns.PID, procs)
		}
	}
	sort.Slice(m.Namespaces, func(i, j int) bool {
		a, b := m.Namespaces[i], m.Namespaces[j]
		if a.Inode != b.Inode {
			return a.Inode < b.Inode
		}
		return a.Type < b.Type
	})
	return m, nil
}

func commandOf(p Process) string {
	if len(p.Cmdline) > 0 {
		return strings.Join(p.Cmdline, " ")
	}
	return p.Name
}

// Label says which runtime's container pid is in, if any: first by its cgroup path, then by
// the nearest recognised ancestor. procs, when given, is a snapshot to look ancestors up in.
func (h Host) Label(pid int, procs map[int]Process) *Container {
	if ms, err := h.Cgroups(pid); err == nil {
		// The cgroup2 path first (it is what every runtime manages today), then v1's.
		sort.SliceStable(ms, func(i, j int) bool { return ms[i].Version > ms[j].Version })
		for _, m := range ms {
			if c := labelByCgroup(m.Path); c != nil {
				return c
			}
		}
	}
	seen := map[int]bool{}
	for p := pid; p > 1 && !seen[p]; {
		seen[p] = true
		pr, ok := procs[p]
		if !ok {
			var err error
			if pr, err = h.Process(p); err != nil {
				return nil
			}
		}
		// The process itself counts only as runc's init (still inside `runc create`); other
		// supervisors are never in the namespaces they make.
		if p != pid || strings.HasPrefix(pr.Name, "runc:[") || len(pr.Cmdline) > 1 && pr.Cmdline[1] == "init" && filepath.Base(pr.Cmdline[0]) == "runc" {
			if c := labelByAncestor(pr); c != nil {
				return c
			}
		}
		p = pr.PPID
	}
	return nil
}

// Tree arranges the map as a forest: pid and user namespaces under their parents, every other
// namespace under its owning user namespace; what has neither (the initial user namespace, or
// one whose parent we cannot see) is a root.
func (m *NamespaceMap) Tree() []*NamespaceInfo {
	byIno := map[uint64]*NamespaceInfo{}
	for _, ns := range m.Namespaces {
		c := *ns
		c.Children = nil
		byIno[ns.Inode] = &c
	}
	var roots []*NamespaceInfo
	for _, ns := range m.Namespaces {
		n := byIno[ns.Inode]
		up := n.Owner
		if n.Type == "pid" && n.Parent != 0 || n.Type == "user" {
			up = n.Parent
		}
		if p, ok := byIno[up]; ok && up != 0 && p != n {
			p.Children = append(p.Children, n)
		} else {
			roots = append(roots, n)
		}
	}
	return roots
}

func itoa(i int) string { return strconv.Itoa(i) }
