package tui

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/glassbox/glassbox/theme"
)

// Inspector reads what the kernel holds for a process: its namespaces, the processes beside
// it, its mounts and its security settings. The binary passes a /proc reader (package inspect
// when it lands); tests a fake. pid is a host PID, the container's init.
type Inspector interface {
	Namespaces(ctx context.Context, pid int) ([]Namespace, error)
	Processes(ctx context.Context, pid int) ([]Process, error)
	Mounts(ctx context.Context, pid int) ([]Mount, error)
	Security(ctx context.Context, pid int) (Security, error)
}

// Namespace is one of a process's namespaces beside the host's (PID 1's) of the same type.
type Namespace struct {
	Type      string // "net", "pid", "mnt"...
	Inode     uint64
	HostInode uint64
	// HostRef names the process HostInode was read from: "PID 1", or "glassbox" where PID 1's
	// namespaces cannot be read (a sandbox), 0 HostInode meaning neither could be.
	HostRef string
	// Sharers counts the host's processes in this namespace, the process included.
	Sharers int
}

// Process is one process of a container, with both of its PIDs.
type Process struct {
	HostPID, ContainerPID, PPID int
	State, User, Command        string
}

// Mount is one line of /proc/PID/mountinfo.
type Mount struct {
	Target, Source, FSType, Options string
}

// Security is a process's privileges as the kernel reports them.
type Security struct {
	Effective, Bounding []string // capability names
	NoNewPrivs          bool
	Seccomp             string // "disabled", "strict", "filter (N filters)"
	UIDMap, GIDMap      string
	LSM                 string // AppArmor/SELinux label, if any
	Files               []string
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
	if !sel.isContainer() || c.State != "running" || c.Pid <= 0 {
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
		return t.Muted.Render("no kernel inspector in this build")
	case p.key == "":
		return t.Muted.Render("select a container")
	case p.pid == 0:
		return t.Muted.Render("the container is " + orDash(p.state) + ": it has no processes to inspect")
	case p.err != nil:
		return fitLines([]string{t.StatusError.Render(p.err.Error()), t.Muted.Render("(a process that ended has nothing left to read)")}, width)
	case p.data == nil:
		return t.Muted.Render("reading /proc/" + fmt.Sprint(p.pid) + "…")
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
		mk("Namespaces", false, func(ctx context.Context, pid int) (any, error) { return in.Namespaces(ctx, pid) }, renderNamespaces),
		mk("Processes", true, func(ctx context.Context, pid int) (any, error) { return in.Processes(ctx, pid) }, renderProcesses),
		mk("Mounts", false, func(ctx context.Context, pid int) (any, error) { return in.Mounts(ctx, pid) }, renderMounts),
		mk("Security", false, func(ctx context.Context, pid int) (any, error) { return in.Security(ctx, pid) }, renderSecurity),
	}
}

func renderNamespaces(t *theme.Theme, data any) []string {
	nss := data.([]Namespace)
	lines := []string{t.ColumnHeader.Render(fmt.Sprintf("%-18s %-12s %-8s %s", "TYPE", "INODE", "", "PROCESSES IN IT"))}
	ref := "PID 1"
	for _, ns := range nss {
		own := t.Good.Render("new     ")
		switch {
		case ns.HostInode == 0:
			own = t.Muted.Render("?       ")
		case ns.Inode == ns.HostInode:
			own = t.Warn.Render("shared  ")
		}
		if ns.HostRef != "" {
			ref = ns.HostRef
		}
		lines = append(lines, fmt.Sprintf("%-18s %-12d %s %d", ns.Type, ns.Inode, own, ns.Sharers))
	}
	lines = append(lines, "", t.Muted.Render("new: the container's own; shared: the same as "+ref+"'s"),
		t.Muted.Render("(the inode of /proc/PID/ns/TYPE names a namespace)"))
	return lines
}

func renderProcesses(t *theme.Theme, data any) []string {
	procs := data.([]Process)
	byParent := map[int][]Process{}
	in := map[int]bool{}
	for _, p := range procs {
		in[p.HostPID] = true
	}
	var roots []Process
	for _, p := range procs {
		if in[p.PPID] {
			byParent[p.PPID] = append(byParent[p.PPID], p)
		} else {
			roots = append(roots, p)
		}
	}
	lines := []string{t.ColumnHeader.Render(fmt.Sprintf("%-8s %-8s %-5s %-8s %s", "PID", "HOST PID", "STATE", "USER", "COMMAND"))}
	var walk func(p Process, depth int)
	walk = func(p Process, depth int) {
		lines = append(lines, fmt.Sprintf("%-8d %s %-5s %-8s %s%s", p.ContainerPID, t.Accent.Render(fmt.Sprintf("%-8d", p.HostPID)),
			p.State, p.User, strings.Repeat("  ", depth), p.Command))
		kids := byParent[p.HostPID]
		sort.Slice(kids, func(i, j int) bool { return kids[i].HostPID < kids[j].HostPID })
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	lines = append(lines, "", t.Muted.Render("PID is in the container's pid namespace (NSpid), HOST PID in the host's"))
	return lines
}

func renderMounts(t *theme.Theme, data any) []string {
	ms := data.([]Mount)
	lines := []string{t.ColumnHeader.Render(fmt.Sprintf("%-20s %-8s %-14s %s", "TARGET", "TYPE", "SOURCE", "OPTIONS"))}
	for _, m := range ms {
		lines = append(lines, pad(m.Target, 20)+" "+t.Accent2.Render(pad(m.FSType, 8))+" "+pad(m.Source, 14)+" "+t.Muted.Render(m.Options))
	}
	return lines
}

func renderSecurity(t *theme.Theme, data any) []string {
	s := data.(Security)
	field := func(k, v string) string { return t.HeaderKey.Render(fmt.Sprintf("%-14s", k)) + " " + v }
	nnp := "no"
	if s.NoNewPrivs {
		nnp = "yes"
	}
	lines := []string{
		field("seccomp", s.Seccomp),
		field("no_new_privs", nnp),
		field("uid map", orDash(s.UIDMap)),
		field("gid map", orDash(s.GIDMap)),
		field("LSM label", orDash(s.LSM)),
		"",
		t.PaneTitle.Render(fmt.Sprintf("Effective capabilities (%d)", len(s.Effective))),
	}
	lines = append(lines, wrapWords(s.Effective, 72)...)
	lines = append(lines, "", t.PaneTitle.Render(fmt.Sprintf("Bounding set (%d)", len(s.Bounding))))
	lines = append(lines, wrapWords(s.Bounding, 72)...)
	if len(s.Files) > 0 {
		lines = append(lines, "", t.Muted.Render("from "+strings.Join(s.Files, ", ")))
	}
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
