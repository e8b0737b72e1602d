package inspect

import (
	"bytes"
	"sort"
	"strconv"
	"strings"
)

// Process is one process as /proc shows it.
type Process struct {
	PID  int `json:"pid"` // in our PID namespace (the host's when glassbox runs on the host)
	PPID int `json:"ppid"`
	// NSpid is the PID in each PID namespace the process is visible in, from ours down to its
	// own (proc(5) NSpid); InnerPID is the last: the PID the process sees for itself.
	NSpid    []int    `json:"nspid"`
	InnerPID int      `json:"innerPid"`
	Name     string   `json:"name"` // comm
	Cmdline  []string `json:"cmdline"`
	State    string   `json:"state"`
	UID      uint32   `json:"uid"`
	Threads  int      `json:"threads"`
	Kernel   bool     `json:"kernelThread,omitempty"` // no cmdline and a child of kthreadd
}

// Process reads one process's status and command line.
func (h Host) Process(pid int) (Process, error) {
	b, err := h.readProcFile(pid, "status")
	if err != nil {
		return Process{}, err
	}
	st := statusFields(b)
	p := Process{PID: pid, Name: st["Name"], State: st["State"]}
	p.PPID, _ = strconv.Atoi(st["PPid"])
	p.Threads, _ = strconv.Atoi(st["Threads"])
	p.UID = parseIDs(st["Uid"])[0]
	for _, f := range strings.Fields(st["NSpid"]) {
		if v, err := strconv.Atoi(f); err == nil {
			p.NSpid = append(p.NSpid, v)
		}
	}
	if len(p.NSpid) == 0 {
		p.NSpid = []int{pid}
	}
	p.InnerPID = p.NSpid[len(p.NSpid)-1]
	if cl, err := h.readProcFile(pid, "cmdline"); err == nil {
		cl = bytes.TrimRight(cl, "\x00")
		if len(cl) > 0 {
			p.Cmdline = strings.Split(string(cl), "\x00")
		}
	}
	p.Kernel = len(p.Cmdline) == 0 && (p.PPID == 2 || pid == 2)
	return p, nil
}

// ProcNode is a process with its children, as a tree.
type ProcNode struct {
	Process
	// PIDInside is the process's PID in the namespace the tree was made for.
	PIDInside int         `json:"pidInside"`
	Children  []*ProcNode `json:"children,omitempty"`
}

// ProcessTree lists the processes visible inside pid's PID namespace (its own and those of
// namespaces nested in it) as a forest rooted at the ones whose parent is outside, with each
// one's PID inside that namespace beside its host PID. Processes that exit while being read
// are left out.
func (h Host) ProcessTree(pid int) ([]*ProcNode, error) {
	self, err := h.Process(pid)
	if err != nil {
		return nil, err
	}
	level := len(self.NSpid) - 1 // depth of pid's namespace below ours
	nsIno, err := h.nsInode(pid, "pid")
	if err != nil {
		return nil, err
	}
	pids, err := h.Pids()
	if err != nil {
		return nil, err
	}
	nodes := map[int]*ProcNode{}
	rel := newNSRelations()
	defer rel.close()
	for _, p := range pids {
		ino, err := h.nsInode(p, "pid")
		if err != nil {
			continue
		}
		// In our own namespace every process is visible; deeper, only members and the
		// processes of namespaces nested in it.
		if level > 0 && ino != nsIno && !rel.below(h, p, nsIno) {
			continue
		}
		pr, err := h.Process(p)
		if err != nil || len(pr.NSpid) <= level {
			continue
		}
		nodes[p] = &ProcNode{Process: pr, PIDInside: pr.NSpid[level]}
	}
	var roots []*ProcNode
	for _, n := range nodes {
		if parent, ok := nodes[n.PPID]; ok && n.PPID != n.PID {
			parent.Children = append(parent.Children, n)
		} else {
			roots = append(roots, n)
		}
	}
	sortNodes(roots)
	return roots, nil
}

func sortNodes(ns []*ProcNode) {
	sort.Slice(ns, func(i, j int) bool { return ns[i].PID < ns[j].PID })
	for _, n := range ns {
		sortNodes(n.Children)
	}
}
