package tui

import (
	"fmt"
	"sort"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/glassbox/glassbox/inspect"
	"github.com/glassbox/glassbox/theme"
	"github.com/glassbox/glassbox/tui/chart"
)

// cgroupsPane is the Cgroups tab: live graphs of the selected container's CPU and memory,
// its pids, IO, throttling, OOM kills and pressure, each figure with the cgroup file it was
// read from. The samples come from the root model's stats ticks; the pane only draws them.
type cgroupsPane struct {
	th        *theme.Theme
	histories map[string]*history
	errs      map[string]error
	enabled   bool
	sel       selection
	showFiles bool
	kk        key.Binding
}

func (p *cgroupsPane) title() string { return "Cgroups" }

func (p *cgroupsPane) keys() []key.Binding { return []key.Binding{p.kk} }

func (p *cgroupsPane) activate(sel selection) tea.Cmd { p.sel = sel; return nil }

func (p *cgroupsPane) deactivate() {}

func (p *cgroupsPane) update(tea.Msg) tea.Cmd { return nil }

func (p *cgroupsPane) handleKey(k tea.KeyPressMsg) (bool, tea.Cmd) {
	if key.Matches(k, p.kk) {
		p.showFiles = !p.showFiles
		return true, nil
	}
	return false, nil
}

func (p *cgroupsPane) view(width, height int) string {
	t := p.th
	c := p.sel.container
	switch {
	case !p.enabled:
		return t.Paint(&t.Muted, "no statistics reader in this build")
	case !p.sel.hasProcess():
		return t.Paint(&t.Muted, "select a container")
	case c.State != "running":
		return t.Paint(&t.Muted, c.Name+" is "+c.State+": its cgroups are gone")
	}
	if err := p.errs[c.ID]; err != nil {
		return fitLines([]string{t.Paint(&t.StatusError, err.Error())}, width)
	}
	h := p.histories[c.ID]
	if h == nil || h.full.Time.IsZero() {
		return t.Paint(&t.Muted, "reading "+c.Name+"'s cgroups…")
	}
	s := h.full
	if p.showFiles {
		return p.filesView(h.files, width, height)
	}
	chartH := max(1, min(6, (height-10)/2))
	chartW := width
	var lines []string
	label := func(name, value, file string) string {
		l := t.Paint(&t.PaneTitle, name) + " " + t.Paint(&t.Bold, value)
		if f := h.files[file]; f != "" {
			l += "  " + t.Paint(&t.Muted, baseName(f))
		}
		return l
	}
	lines = append(lines, label("CPU", fmt.Sprintf("%.1f%% of a core", h.cpu.Last()*100), "cpu"))
	top := max(h.cpu.Max(chartW), 0.05)
	for _, r := range chart.Area(h.cpu, chartW, chartH, top) {
		lines = append(lines, t.Paint(&t.CPU, r))
	}
	mem := s.Memory
	limitBytes := int64(0)
	if mem.LimitBytes != inspect.Unlimited {
		limitBytes = int64(mem.LimitBytes)
	}
	limit := "no limit"
	if limitBytes > 0 {
		limit = "limit " + humanBytes(limitBytes)
	}
	lines = append(lines, label("Memory", humanBytes(int64(mem.UsageBytes))+" / "+limit, "memory"),
		"  "+t.Paint(&t.Text, fmt.Sprintf("working set %s · anon %s · cache %s · kernel %s", humanBytes(int64(mem.WorkingSetBytes())),
			humanBytes(int64(mem.AnonBytes)), humanBytes(int64(mem.FileBytes)), humanBytes(int64(mem.KernelBytes))))+
			"  "+t.Paint(&t.Muted, fileOf(h.files["breakdown"])))
	memTop := float64(limitBytes)
	if memTop <= 0 || memTop > 4*h.mem.Max(chartW) {
		memTop = h.mem.Max(chartW) * 1.2
	}
	for _, r := range chart.Area(h.mem, chartW, chartH, memTop) {
		lines = append(lines, t.Paint(&t.Memory, r))
	}
	if limitBytes > 0 {
		full, empty := chart.Bar(float64(mem.UsageBytes)/float64(limitBytes), min(width-12, 40))
		lines = append(lines, t.Paint(&t.Muted, "of limit ")+t.Paint(&t.BarFull, full)+t.Paint(&t.BarEmpty, empty))
	}
	pidsLimit := "no limit"
	if s.Pids.Max != inspect.Unlimited && s.Pids.Max > 0 {
		pidsLimit = fmt.Sprint(s.Pids.Max)
	}
	lines = append(lines,
		label("Pids", fmt.Sprintf("%d / %s", s.Pids.Current, pidsLimit), "pids")+"  "+t.Paint(&t.Pids, chart.Sparkline(h.pids, 16, 0)),
		label("IO", fmt.Sprintf("read %s/s · write %s/s", humanBytes(int64(h.ioRead.Last())), humanBytes(int64(h.ioWrite.Last()))), "io"),
		label("Throttled", fmt.Sprintf("%.2fs/s · %d of %d periods", h.throttled.Last(), s.CPU.ThrottledPeriods, s.CPU.Periods), "throttled"),
		label("OOM", fmt.Sprintf("%d kills · limit hit %d times", mem.OOMKills, mem.LimitHits), "oom"),
	)
	if pr := s.Pressure; pr.CPU.Present || pr.Memory.Present || pr.IO.Present {
		lines = append(lines, label("Pressure", fmt.Sprintf("some avg10 cpu %.2f%% · memory %.2f%% · io %.2f%%",
			pr.CPU.Some.Avg10, pr.Memory.Some.Avg10, pr.IO.Some.Avg10), "pressure"))
	}
	lines = append(lines, t.Paint(&t.Muted, "f lists the cgroup files behind each figure"))
	return fitLines(clipLines(lines, 0, height), width)
}

// filesView lists every figure's file in full.
func (p *cgroupsPane) filesView(files map[string]string, width, height int) string {
	t := p.th
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	lines := []string{t.Paint(&t.PaneTitle, "The files behind the figures")}
	for _, n := range names {
		dir, file := files[n], baseName(files[n])
		dir = strings.TrimSuffix(dir, "/"+file)
		lines = append(lines, lipgloss.NewStyle().Width(10).Render(n)+" "+t.Paint(&t.Bold, file), "           "+t.Paint(&t.Muted, dir))
	}
	return fitLines(clipLines(lines, 0, height), width)
}

func baseName(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// fileOf is the file name of a Files entry ("/sys/.../memory.stat total_rss" -> "memory.stat").
func fileOf(entry string) string {
	f, _, _ := strings.Cut(entry, " ")
	return baseName(f)
}
