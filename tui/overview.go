package tui

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/glassbox/glassbox/engine"
	"github.com/glassbox/glassbox/theme"
)

// overviewPane is the Overview tab: what the container is, the real process chain, its limits
// and how it ended; for an image, its summary and the config a run starts from.
type overviewPane struct {
	th     *theme.Theme
	b      Backend
	ctx    context.Context
	sel    selection
	loaded string
	detail *engine.ContainerDetail
	image  *engine.ImageDetail
	err    error
	scroll int
}

type overviewMsg struct {
	key    string
	detail *engine.ContainerDetail
	image  *engine.ImageDetail
	err    error
}

func (p *overviewPane) title() string       { return "Overview" }
func (p *overviewPane) keys() []key.Binding { return scrollKeys() }
func (p *overviewPane) deactivate()         {}

func (p *overviewPane) activate(sel selection) tea.Cmd {
	p.sel = sel
	k := sel.key()
	if k == "" || (k == p.loaded && p.err == nil && sel.kind == kindImages) {
		return nil
	}
	p.loaded, p.scroll = k, 0
	b, ctx := p.b, p.ctx
	if sel.isContainer() {
		id := sel.container.ID
		return func() tea.Msg {
			d, err := b.Inspect(ctx, id)
			return overviewMsg{key: k, detail: &d, err: err}
		}
	}
	ref := sel.image.ID
	return func() tea.Msg {
		d, err := b.ImageInspect(ctx, ref)
		return overviewMsg{key: k, image: &d, err: err}
	}
}

func (p *overviewPane) update(msg tea.Msg) tea.Cmd {
	if m, ok := msg.(overviewMsg); ok && m.key == p.loaded {
		p.detail, p.image, p.err = m.detail, m.image, m.err
	}
	return nil
}

func (p *overviewPane) handleKey(k tea.KeyPressMsg) (bool, tea.Cmd) {
	return scrollBy(&p.scroll, k), nil
}

func (p *overviewPane) view(width, height int) string {
	var lines []string
	switch {
	case p.sel.key() == "":
		lines = []string{p.th.Paint(&p.th.Muted, "nothing selected")}
	case p.err != nil:
		lines = []string{p.th.Paint(&p.th.StatusError, p.err.Error())}
	case p.sel.isContainer() && p.detail != nil && p.loaded == p.sel.key():
		lines = p.containerLines(*p.detail, width)
	case !p.sel.isContainer() && p.image != nil && p.loaded == p.sel.key():
		lines = p.imageLines(*p.image)
	default:
		lines = []string{p.th.Paint(&p.th.Muted, "loading…")}
	}
	p.scroll = max(0, min(p.scroll, len(lines)-height))
	return fitLines(clipLines(lines, p.scroll, height), width)
}

// field is a "label  value" line.
func (p *overviewPane) field(label, value string) string {
	return p.th.Paint(&p.th.HeaderKey, pad(label, 11)) + " " + value
}

func (p *overviewPane) section(name string) string { return p.th.Paint(&p.th.PaneTitle, name) }

func (p *overviewPane) containerLines(d engine.ContainerDetail, width int) []string {
	t := p.th
	state := t.State(d.State.Status).Render(d.State.Status)
	if d.State.Status == "exited" {
		state += fmt.Sprintf(" (code %d)", d.State.ExitCode)
		if d.State.OOMKilled {
			state += t.Paint(&t.Bad, " OOM-killed")
		}
	}
	if d.State.Error != "" {
		state += " " + t.Paint(&t.Bad, d.State.Error)
	}
	cmd := strings.Join(append([]string{d.Path}, d.Args...), " ")
	lines := []string{
		p.field("name", t.Paint(&t.Bold, strings.TrimPrefix(d.Name, "/"))+"  "+t.Paint(&t.Muted, shortID(d.ID))),
		p.field("image", d.Image),
		p.field("command", cmd),
		p.field("state", state),
	}
	if !d.State.StartedAt.IsZero() {
		lines = append(lines, p.field("started", d.State.StartedAt.Format("2006-01-02 15:04:05")))
	}
	if !d.State.FinishedAt.IsZero() && !d.State.Running {
		lines = append(lines, p.field("finished", d.State.FinishedAt.Format("2006-01-02 15:04:05")))
	}
	lines = append(lines, "", p.section("Process chain"))
	lines = append(lines, p.chain(d)...)
	lines = append(lines, "", p.section("Limits"))
	c := d.Config
	lines = append(lines,
		p.field("memory", limitText(c.MemoryBytes, humanBytes)),
		p.field("cpus", limitText(c.NanoCPUs, func(n int64) string { return fmt.Sprintf("%.2f", float64(n)/1e9) })),
		p.field("pids", limitText(c.PidsLimit, func(n int64) string { return fmt.Sprint(n) })),
	)
	if len(d.CgroupPaths) > 0 {
		lines = append(lines, "", p.section("Cgroups"))
		names := make([]string, 0, len(d.CgroupPaths))
		for n := range d.CgroupPaths {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			lines = append(lines, p.field(n, t.Paint(&t.Muted, d.CgroupPaths[n])))
		}
	}
	g := d.GraphDriver.Data
	lines = append(lines, "", p.section("Root filesystem ("+orDash(d.GraphDriver.Name)+")"),
		p.field("upper", t.Paint(&t.Muted, orDash(g.UpperDir))),
		p.field("merged", t.Paint(&t.Muted, orDash(g.MergedDir))),
		p.field("lower", t.Paint(&t.Muted, fmt.Sprintf("%d layers", len(splitNonEmpty(g.LowerDir, ":"))))),
	)
	if len(d.Mounts) > 0 {
		lines = append(lines, "", p.section("Mounts"))
		for _, m := range d.Mounts {
			mode := "rw"
			if !m.RW {
				mode = "ro"
			}
			lines = append(lines, fmt.Sprintf("%-6s %s → %s (%s)", m.Type, m.Source, m.Destination, mode))
		}
	}
	n := d.NetworkSettings
	lines = append(lines, "", p.section("Network"), p.field("mode", orDash(n.Mode)))
	if n.IPAddress != "" {
		lines = append(lines, p.field("address", n.IPAddress+" via "+n.Gateway))
	}
	for port, host := range n.Ports {
		lines = append(lines, p.field("port", host+" → "+port))
	}
	lines = append(lines, "", p.section("Files"),
		p.field("bundle", t.Paint(&t.Muted, orDash(d.BundleDir))),
		p.field("config", t.Paint(&t.Muted, orDash(d.ConfigPath))),
		p.field("log", t.Paint(&t.Muted, orDash(d.LogPath))))
	return lines
}

// chain draws glassbox -> shim -> init with their real PIDs, as DESIGN's stack has it.
func (p *overviewPane) chain(d engine.ContainerDetail) []string {
	t := p.th
	pid := func(n int) string {
		if n <= 0 {
			return t.Paint(&t.Muted, "(gone)")
		}
		return t.Paint(&t.Accent, fmt.Sprintf("pid %d", n))
	}
	cmd := d.Path
	if len(d.Args) > 0 {
		cmd += " " + strings.Join(d.Args, " ")
	}
	lines := []string{
		"glassbox (this workbench; no daemon)",
		"└─ shim  " + pid(d.ShimPid) + t.Paint(&t.Muted, "  supervisor: pty, log, exit code"),
	}
	if d.State.Running || d.State.Pid > 0 {
		lines = append(lines, "   └─ init  "+pid(d.State.Pid)+t.Paint(&t.Muted, "  pid 1 in the container: ")+cmd)
	} else {
		lines = append(lines, "   └─ "+t.Paint(&t.Muted, "(not running) ")+cmd)
	}
	return lines
}

func (p *overviewPane) imageLines(d engine.ImageDetail) []string {
	t := p.th
	lines := []string{
		p.field("tags", strings.Join(d.RepoTags, ", ")),
		p.field("id", d.ID),
		p.field("digest", orDash(d.Digest)),
		p.field("size", humanBytes(d.Size)),
		p.field("layers", fmt.Sprint(d.Layers)),
	}
	if !d.Created.IsZero() {
		lines = append(lines, p.field("created", d.Created.Format("2006-01-02 15:04:05")))
	}
	var cfg struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
		Config       struct {
			Entrypoint []string `json:"Entrypoint"`
			Cmd        []string `json:"Cmd"`
			Env        []string `json:"Env"`
			WorkingDir string   `json:"WorkingDir"`
			User       string   `json:"User"`
		} `json:"config"`
	}
	if len(d.Config) > 0 && json.Unmarshal(d.Config, &cfg) == nil {
		c := cfg.Config
		lines = append(lines, "", p.section("What a run starts from"),
			p.field("platform", cfg.OS+"/"+cfg.Architecture),
			p.field("entrypoint", orDash(strings.Join(c.Entrypoint, " "))),
			p.field("cmd", orDash(strings.Join(c.Cmd, " "))),
			p.field("workdir", orDash(c.WorkingDir)),
			p.field("user", orDash(c.User)))
		for _, e := range c.Env {
			lines = append(lines, p.field("env", t.Paint(&t.Muted, e)))
		}
	}
	return lines
}

func limitText(n int64, f func(int64) string) string {
	if n <= 0 {
		return "unlimited"
	}
	return f(n)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func splitNonEmpty(s, sep string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, sep)
}
