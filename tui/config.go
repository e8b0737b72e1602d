package tui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/glassbox/glassbox/theme"
)

// configPane is the Config tab: the container's OCI config.json as the runtime read it, or an
// image's config blob, indented.
type configPane struct {
	th     *theme.Theme
	b      Backend
	ctx    context.Context
	key    string
	source string
	lines  []string
	err    error
	offset int
}

type configMsg struct {
	key    string
	source string
	body   []byte
	err    error
}

func (p *configPane) title() string       { return "Config" }
func (p *configPane) keys() []key.Binding { return scrollKeys() }
func (p *configPane) deactivate()         {}

func (p *configPane) activate(sel selection) tea.Cmd {
	k := sel.key()
	if k == "" || k == p.key && p.err == nil {
		return nil
	}
	p.key, p.lines, p.err, p.offset = k, nil, nil, 0
	b, ctx := p.b, p.ctx
	if sel.isContainer() {
		id := sel.container.ID
		return func() tea.Msg {
			d, err := b.Inspect(ctx, id)
			if err != nil {
				return configMsg{key: k, err: err}
			}
			body, err := os.ReadFile(d.ConfigPath)
			if err != nil {
				return configMsg{key: k, err: fmt.Errorf("read the OCI config: %w", err)}
			}
			return configMsg{key: k, source: d.ConfigPath, body: body}
		}
	}
	ref := sel.image.ID
	return func() tea.Msg {
		d, err := b.ImageInspect(ctx, ref)
		return configMsg{key: k, source: "image config " + shortID(d.ID), body: d.Config, err: err}
	}
}

func (p *configPane) update(msg tea.Msg) tea.Cmd {
	m, ok := msg.(configMsg)
	if !ok || m.key != p.key {
		return nil
	}
	p.source, p.err = m.source, m.err
	if m.err == nil {
		var out bytes.Buffer
		if err := json.Indent(&out, m.body, "", "  "); err != nil {
			out.Reset()
			out.Write(m.body)
		}
		p.lines = strings.Split(strings.ReplaceAll(out.String(), "\t", "  "), "\n")
	}
	return nil
}

func (p *configPane) handleKey(k tea.KeyPressMsg) (bool, tea.Cmd) {
	return scrollBy(&p.offset, k), nil
}

func (p *configPane) view(width, height int) string {
	t := p.th
	switch {
	case p.key == "":
		return t.Paint(&t.Muted, "nothing selected")
	case p.err != nil:
		return fitLines([]string{t.Paint(&t.StatusError, p.err.Error())}, width)
	case p.lines == nil:
		return t.Paint(&t.Muted, "loading…")
	}
	bodyH := max(1, height-1)
	p.offset = max(0, min(p.offset, len(p.lines)-bodyH))
	lines := []string{t.Paint(&t.Muted, p.source)}
	for _, l := range clipLines(p.lines, p.offset, bodyH) {
		lines = append(lines, p.colour(l))
	}
	return fitLines(lines, width)
}

// colour styles a JSON line's key apart from its value.
func (p *configPane) colour(l string) string {
	trimmed := strings.TrimLeft(l, " ")
	if !strings.HasPrefix(trimmed, `"`) {
		return l
	}
	if i := strings.Index(trimmed, `": `); i > 0 {
		indent := l[:len(l)-len(trimmed)]
		return indent + p.th.Paint(&p.th.Accent2, trimmed[:i+1]) + ":" + trimmed[i+2:]
	}
	return l
}
