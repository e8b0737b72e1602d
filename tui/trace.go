package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/glassbox/glassbox/engine"
	"github.com/glassbox/glassbox/theme"
)

// tracePane is the Trace tab: the kernel steps of the container's create and start as a
// waterfall, each bar placed at its offset and as long as it took.
type tracePane struct {
	th     *theme.Theme
	b      Backend
	ctx    context.Context
	key    string
	steps  []engine.TraceStep
	err    error
	cursor int
	offset int
}

type traceMsg struct {
	key   string
	steps []engine.TraceStep
	err   error
}

func (p *tracePane) title() string       { return "Trace" }
func (p *tracePane) keys() []key.Binding { return scrollKeys() }
func (p *tracePane) deactivate()         {}

func (p *tracePane) activate(sel selection) tea.Cmd {
	if !sel.isContainer() {
		p.key, p.steps, p.err = "", nil, nil
		return nil
	}
	k := sel.key()
	if k == p.key {
		return nil
	}
	p.key, p.steps, p.err, p.cursor = k, nil, nil, 0
	b, ctx, id := p.b, p.ctx, sel.container.ID
	return func() tea.Msg {
		s, err := b.Trace(ctx, id)
		return traceMsg{key: k, steps: s, err: err}
	}
}

func (p *tracePane) update(msg tea.Msg) tea.Cmd {
	if m, ok := msg.(traceMsg); ok && m.key == p.key {
		p.steps, p.err = m.steps, m.err
	}
	return nil
}

func (p *tracePane) handleKey(k tea.KeyPressMsg) (bool, tea.Cmd) {
	c := p.cursor
	if !scrollBy(&c, k) {
		return false, nil
	}
	p.cursor = max(0, min(c, len(p.steps)-1))
	return true, nil
}

func (p *tracePane) view(width, height int) string {
	t := p.th
	switch {
	case p.key == "":
		return t.Paint(&t.Muted, "select a container to see the steps of its start")
	case p.err != nil:
		return fitLines([]string{t.Paint(&t.StatusError, p.err.Error())}, width)
	case p.steps == nil:
		return t.Paint(&t.Muted, "loading trace…")
	case len(p.steps) == 0:
		return t.Paint(&t.Muted, "no steps recorded")
	}
	var total time.Duration
	for _, s := range p.steps {
		total = max(total, s.Start+s.Duration)
	}
	nameW := min(14, width/5)
	timeW := 8
	detailW := max(0, width*2/5-nameW)
	barW := max(4, width-nameW-detailW-timeW-3)
	lines := []string{t.Paint(&t.ColumnHeader, pad(pad("STEP", nameW)+" "+pad("DETAIL", detailW)+" "+pad("0", barW/2)+pad(preciseDuration(total), barW-barW/2)+" "+"TOOK", width))}
	// Two lines at the bottom show the chosen step in full.
	bodyH := max(1, height-4)
	p.offset = max(0, min(p.offset, len(p.steps)-bodyH))
	if p.cursor < p.offset {
		p.offset = p.cursor
	}
	if p.cursor >= p.offset+bodyH {
		p.offset = p.cursor - bodyH + 1
	}
	for i := p.offset; i < len(p.steps) && i < p.offset+bodyH; i++ {
		s := p.steps[i]
		lines = append(lines, p.row(s, total, nameW, detailW, barW, i == p.cursor, width))
	}
	for len(lines) < bodyH+1 {
		lines = append(lines, "")
	}
	s := p.steps[min(p.cursor, len(p.steps)-1)]
	info := fmt.Sprintf("%s at +%s took %s", s.Step, preciseDuration(s.Start), preciseDuration(s.Duration))
	if s.Pid > 0 {
		info += fmt.Sprintf(" (pid %d)", s.Pid)
	}
	lines = append(lines, t.Paint(&t.Accent, info))
	detail := s.Detail
	if s.Err != "" {
		detail = t.Paint(&t.Bad, "error: "+s.Err) + " " + detail
	}
	wrapped := strings.Split(ansi.Wrap(detail, width, ""), "\n")
	lines = append(lines, clipLines(wrapped, 0, 2)...)
	return fitLines(lines, width)
}

func (p *tracePane) row(s engine.TraceStep, total time.Duration, nameW, detailW, barW int, selected bool, width int) string {
	t := p.th
	startCell, lenCells := 0, 1
	if total > 0 {
		startCell = int(int64(s.Start) * int64(barW) / int64(total))
		lenCells = max(1, int(int64(s.Duration)*int64(barW)/int64(total)))
	}
	startCell = min(startCell, barW-1)
	lenCells = min(lenCells, barW-startCell)
	bar := strings.Repeat(" ", startCell) + strings.Repeat("█", lenCells) + strings.Repeat(" ", barW-startCell-lenCells)
	head := pad(s.Step, nameW) + " " + pad(s.Detail, detailW) + " "
	took := pad(preciseDuration(s.Duration), 8)
	if selected {
		return t.Paint(&t.Selected, pad(head+bar+" "+took, width))
	}
	style := t.Accent2
	if s.Err != "" {
		style = t.Bad
	}
	return head + style.Render(bar) + " " + t.Paint(&t.Muted, took)
}
