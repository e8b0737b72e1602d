package tui

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/glassbox/glassbox/inspect"
	"github.com/glassbox/glassbox/theme"
)

// Inspector reads what the kernel holds for a process: package inspect's Host in the binary
// (one implementation for the CLI and the workbench), a fake in tests. pid is a host PID: a
// container's init, or any process of the host view.
type Inspector interface {
	Namespaces(pid int) ([]inspect.Namespace, error)
	NamespaceMap() (*inspect.NamespaceMap, error)
	ProcessTree(pid int) ([]*inspect.ProcNode, error)
	Mounts(pid int) ([]inspect.Mount, error)
	Security(pid int) (inspect.Security, error)
	Network(pid int) (*inspect.Network, error)
	// CgroupPaths is the process's cgroup directory per hierarchy (the host view's Cgroups tab).
	CgroupPaths(pid int) (map[string]string, error)
}

// nsView is the Namespaces tab's data: the process's namespaces and the machine's map, for
// who else is in each one and the pid-namespace chain.
type nsView struct {
	own []inspect.Namespace
	all *inspect.NamespaceMap
}

// inspectPane is a tab drawn from one Inspector call for the selected container's init.
type inspectPane struct {
	th     *theme.Theme
	ctx    context.Context
	name   string
	load   func(ctx context.Context, pid int) (any, error)
	render func(th *theme.Theme, data any) []string
	// live panes reload on every refresh tick (processes come and go).
	live bool

	key    string
	pid    int
	data   any
	err    error
	offset int
	state  string
}

type inspectMsg struct {
	pane *inspectPane
	key  string
	data any
	err  error
}

func (p *inspectPane) title() string       { return p.name }
func (p *inspectPane) keys() []key.Binding { return scrollKeys() }
func (p *inspectPane) deactivate()         {}

func (p *inspectPane) activate(sel selection) tea.Cmd {
	c := sel.container
	p.state = c.State
	if !sel.hasProcess() || c.State != "running" || c.Pid <= 0 {
		p.key, p.data, p.err, p.pid = sel.key(), nil, nil, 0
		return nil
	}
	if sel.key() != p.key || c.Pid != p.pid {
		p.key, p.pid, p.data, p.err, p.offset = sel.key(), c.Pid, nil, nil, 0
	}
	return p.reload()
}

func (p *inspectPane) reload() tea.Cmd {
	if p.pid <= 0 || p.load == nil {
		return nil
	}
	k, pid, ctx, load := p.key, p.pid, p.ctx, p.load
	return func() tea.Msg {
		d, err := load(ctx, pid)
		return inspectMsg{pane: p, key: k, data: d, err: err}
	}
}

func (p *inspectPane) update(msg tea.Msg) tea.Cmd {
	if m, ok := msg.(inspectMsg); ok && m.pane == p && m.key == p.key {
		p.data, p.err = m.data, m.err
	}
	return nil
}

func (p *inspectPane) handleKey(k tea.KeyPressMsg) (bool, tea.Cmd) {
	return scrollBy(&p.offset, k), nil
}

func (p *inspectPane) view(width, height int) string {
	t := p.th
	switch {
	case p.load == nil:
		return t.Paint(&t.Muted, "no kernel inspector in this build")
	case p.key == "":
		return t.Paint(&t.Muted, "select a container")
	case p.pid == 0:
		return t.Paint(&t.Muted, "the container is "+orDash(p.state)+": it has no processes to inspect")
	case p.err != nil:
		return fitLines([]string{t.Paint(&t.StatusError, p.err.Error()), t.Paint(&t.Muted, "(a process that ended has nothing left to read)")}, width)
	case p.data == nil:
		return t.Paint(&t.Muted, "reading /proc/"+fmt.Sprint(p.pid)+"…")
	}
	lines := p.render(t, p.data)
	p.offset = max(0, min(p.offset, len(lines)-height))
	return fitLines(clipLines(lines, p.offset, height), width)
}

func newInspectPanes(th *theme.Theme, ctx context.Context, in Inspector) []*inspectPane {
	mk := func(name string, live bool, load func(context.Context, int) (any, error), render func(*theme.Theme, any) []string) *inspectPane {
		if in == nil {
			load = nil
		}
		return &inspectPane{th: th, ctx: ctx, name: name, live: live, load: load, render: render}
	}
	return []*inspectPane{
		mk("Namespaces", false, func(_ context.Context, pid int) (any, error) {
			own, err := in.Namespaces(pid)
			if err != nil {
				return nil, err
			}
			all, _ := in.NamespaceMap() // the sharers are extra: the tab stands without them
			return nsView{own: own, all: all}, nil
		}, renderNamespaces),
		mk("Processes", true, func(_ context.Context, pid int) (any, error) { return in.ProcessTree(pid) }, renderProcesses),
		mk("Mounts", false, func(_ context.Context, pid int) (any, error) { return in.Mounts(pid) }, renderMounts),
		mk("Network", false, func(_ context.Context, pid int) (any, error) { return in.Network(pid) }, renderNetwork),
		mk("Security", false, func(_ context.Context, pid int) (any, error) { return in.Security(pid) }, renderSecurity),
	}
}

func renderNamespaces(t *theme.Theme, data any) []string {
	v := data.(nsView)
	byKey := map[string]*inspect.NamespaceInfo{}
	if v.all != nil {
		for _, ns := range v.all.Namespaces {
			byKey[ns.Type+":"+strconv.FormatUint(ns.Inode, 10)] = ns
		}
	}
	lines := []string{t.Paint(&t.ColumnHeader, fmt.Sprintf("%-18s %-12s %-8s %-6s %s", "TYPE", "INODE", "", "PROCS", "LOWEST PID IN IT"))}
	for _, ns := range v.own {
		if ns.Error != "" {
			lines = append(lines, fmt.Sprintf("%-18s %s", ns.Type, t.Paint(&t.Muted, ns.Error)))
			continue
		}
		own := t.Paint(&t.Good, "new     ")
		if ns.Host {
			own = t.Paint(&t.Warn, "host's  ")
		}
		procs, who := "", ""
		if info := byKey[strings.TrimSuffix(ns.Type, "_for_children")+":"+strconv.FormatUint(ns.Inode, 10)]; info != nil {
			procs = strconv.Itoa(info.NProcs)
			who = fmt.Sprintf("%d %s", info.PID, info.Command)
			if info.Container != nil {
				who += " (" + info.Container.Runtime + ")"
			}
		}
		lines = append(lines, fmt.Sprintf("%-18s %-12d %s %-6s %s", ns.Type, ns.Inode, own, procs, t.Paint(&t.Muted, who)))
	}
	lines = append(lines, "", t.Paint(&t.Muted, "new: its own; host's: the same as PID 1's (the inode of /proc/PID/ns/TYPE names it)"))
	// The pid-namespace chain, from the host's down to this process's.
	if v.all != nil {
		var pidIno uint64
		for _, ns := range v.own {
			if ns.Type == "pid" {
				pidIno = ns.Inode
			}
		}
		byIno := map[uint64]*inspect.NamespaceInfo{}
		for _, ns := range v.all.Namespaces {
			if ns.Type == "pid" {
				byIno[ns.Inode] = ns
			}
		}
		var chain []*inspect.NamespaceInfo
		for ino := pidIno; ino != 0 && len(chain) < 32; {
			ns := byIno[ino]
			if ns == nil {
				break
			}
			chain = append([]*inspect.NamespaceInfo{ns}, chain...)
			ino = ns.Parent
		}
		if len(chain) > 0 {
			lines = append(lines, "", t.Paint(&t.PaneTitle, "PID namespace tree"))
			for i, ns := range chain {
				label := fmt.Sprintf("pid:[%d] %d processes, first %d %s", ns.Inode, ns.NProcs, ns.PID, ns.Command)
				if ns.Host {
					label += " (the host's)"
				}
				lines = append(lines, strings.Repeat("  ", i)+"└ "+label)
			}
		}
	}
	return lines
}

func renderProcesses(t *theme.Theme, data any) []string {
	roots := data.([]*inspect.ProcNode)
	lines := []string{t.Paint(&t.ColumnHeader, fmt.Sprintf("%-8s %-8s %-5s %-6s %s", "PID", "HOST PID", "STATE", "UID", "COMMAND"))}
	var walk func(p *inspect.ProcNode, depth int)
	walk = func(p *inspect.ProcNode, depth int) {
		cmd := strings.Join(p.Cmdline, " ")
		if cmd == "" {
			cmd = "[" + p.Name + "]"
		}
		state, _, _ := strings.Cut(p.State, " ")
		lines = append(lines, fmt.Sprintf("%-8d %s %-5s %-6d %s%s", p.PIDInside, t.Paint(&t.Accent, fmt.Sprintf("%-8d", p.PID)),
			state, p.UID, strings.Repeat("  ", depth), cmd))
		for _, k := range p.Children {
			walk(k, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	lines = append(lines, "", t.Paint(&t.Muted, "PID is in the process's own pid namespace (NSpid), HOST PID in the host's"))
	return lines
}

func renderMounts(t *theme.Theme, data any) []string {
	ms := data.([]inspect.Mount)
	lines := []string{t.Paint(&t.ColumnHeader, fmt.Sprintf("%-20s %-8s %-14s %s", "TARGET", "TYPE", "SOURCE", "OPTIONS"))}
	for _, m := range ms {
		lines = append(lines, pad(m.Mountpoint, 20)+" "+t.Paint(&t.Accent2, pad(m.FSType, 8))+" "+pad(m.Source, 14)+" "+t.Paint(&t.Muted, m.Options))
		if o := m.Overlay; o != nil {
			lines = append(lines, t.Paint(&t.Muted, "  upper "+o.UpperDir))
			for i, l := range o.LowerDirs {
				lines = append(lines, t.Paint(&t.Muted, fmt.Sprintf("  lower %d %s", i, l)))
			}
		}
	}
	lines = append(lines, "", t.Paint(&t.Muted, "from /proc/PID/mountinfo"))
	return lines
}

func renderNetwork(t *theme.Theme, data any) []string {
	n := data.(*inspect.Network)
	own := "its own network namespace"
	if n.Host {
		own = "the host's network namespace"
	}
	lines := []string{fmt.Sprintf("net:[%d] %s", n.Inode, t.Paint(&t.Muted, own)), "",
		t.Paint(&t.ColumnHeader, fmt.Sprintf("%-12s %-8s %-5s %-18s %s", "DEVICE", "TYPE", "STATE", "ADDRESS", "RX / TX"))}
	for _, i := range n.Interfaces {
		addr := "-"
		if len(i.Addrs) > 0 {
			addr = i.Addrs[0]
		}
		state := "down"
		if i.Up {
			state = "up"
		}
		lines = append(lines, fmt.Sprintf("%-12s %-8s %-5s %-18s %s / %s", i.Name, i.Type, state, addr,
			humanBytes(int64(i.RxBytes)), humanBytes(int64(i.TxBytes))))
		for _, a := range i.Addrs[min(1, len(i.Addrs)):] {
			lines = append(lines, fmt.Sprintf("%-12s %-8s %-5s %s", "", "", "", a))
		}
		if i.HostPeer != "" {
			lines = append(lines, t.Paint(&t.Muted, "  veth peer on the host: "+i.HostPeer))
		} else if i.Master != "" {
			lines = append(lines, t.Paint(&t.Muted, "  enslaved to "+i.Master))
		}
	}
	lines = append(lines, "", t.Paint(&t.PaneTitle, "Routes"))
	for _, r := range n.Routes {
		l := r.Dst
		if r.Gateway != "" {
			l += " via " + r.Gateway
		}
		if r.Dev != "" {
			l += " dev " + r.Dev
		}
		lines = append(lines, l+t.Paint(&t.Muted, " scope "+r.Scope))
	}
	if len(n.Routes) == 0 {
		lines = append(lines, t.Paint(&t.Muted, "(none)"))
	}
	lines = append(lines, "", t.Paint(&t.Muted, "read over netlink inside the namespace"))
	return lines
}

func renderSecurity(t *theme.Theme, data any) []string {
	s := data.(inspect.Security)
	field := func(k, v string) string { return t.Paint(&t.HeaderKey, fmt.Sprintf("%-14s", k)) + " " + v }
	nnp := "no"
	if s.NoNewPrivs {
		nnp = "yes"
	}
	seccomp := s.Seccomp
	if s.SeccompFilters > 0 {
		seccomp += fmt.Sprintf(" (%d filters)", s.SeccompFilters)
	}
	idmap := func(m []inspect.IDMapLine) string {
		var parts []string
		for _, l := range m {
			parts = append(parts, fmt.Sprintf("%d→%d ×%d", l.Inside, l.Outside, l.Count))
		}
		return orDash(strings.Join(parts, ", "))
	}
	lines := []string{
		field("uid", fmt.Sprintf("%d (%s) gid %d", s.UID[1], orDash(s.User), s.GID[1])),
		field("seccomp", seccomp),
		field("no_new_privs", nnp),
		field("uid map", idmap(s.UIDMap)),
		field("gid map", idmap(s.GIDMap)),
		field("AppArmor", orDash(s.AppArmorProfile)),
		"",
		t.Paint(&t.PaneTitle, fmt.Sprintf("Effective capabilities (%d)", len(s.Effective.Names))) + t.Paint(&t.Muted, " CapEff "+s.Effective.Mask),
	}
	lines = append(lines, wrapWords(s.Effective.Names, 72)...)
	lines = append(lines, "", t.Paint(&t.PaneTitle, fmt.Sprintf("Bounding set (%d)", len(s.Bounding.Names)))+t.Paint(&t.Muted, " CapBnd "+s.Bounding.Mask))
	lines = append(lines, wrapWords(s.Bounding.Names, 72)...)
	lines = append(lines, "", t.Paint(&t.Muted, "from /proc/PID/status, uid_map and gid_map"))
	return lines
}

// wrapWords joins words with spaces into lines of at most width bytes.
func wrapWords(words []string, width int) []string {
	var lines []string
	cur := ""
	for _, w := range words {
		if cur != "" && len(cur)+1+len(w) > width {
			lines = append(lines, cur)
			cur = ""
		}
		if cur != "" {
			cur += " "
		}
		cur += w
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	if len(lines) == 0 {
		lines = []string{"(none)"}
	}
	return lines
}
