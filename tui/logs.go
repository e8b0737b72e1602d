package tui

import (
	"context"
	"github.com/charmbracelet/x/ansi"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/glassbox/glassbox/engine"
	"github.com/glassbox/glassbox/theme"
)

// maxLogLines bounds the lines a Logs pane keeps; older ones drop off the top.
const maxLogLines = 5000

// logsPane is the Logs tab: the container's log, following, with `/` search.
type logsPane struct {
	th  *theme.Theme
	b   Backend
	ctx context.Context
	kk  logsKeys

	key     string
	cancel  context.CancelFunc
	entries []engine.LogEntry
	err     error
	ended   bool
	// follow keeps the view on the newest line; scrolling up stops it, G resumes.
	follow    bool
	offset    int
	search    textinput.Model
	searching bool
	query     string
	matchAt   int
}

type logsKeys struct {
	Search, Next, Prev key.Binding
}

func newLogsPane(th *theme.Theme, b Backend, ctx context.Context) *logsPane {
	ti := newInput("/", "search the log")
	return &logsPane{th: th, b: b, ctx: ctx, search: ti, follow: true, kk: logsKeys{
		Search: key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "search")),
		Next:   key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "next match")),
		Prev:   key.NewBinding(key.WithKeys("N"), key.WithHelp("N", "previous match")),
	}}
}

type logsStartedMsg struct {
	key    string
	ch     <-chan engine.LogEntry
	err    error
	cancel context.CancelFunc
}

type logBatchMsg struct {
	key     string
	ch      <-chan engine.LogEntry
	entries []engine.LogEntry
	closed  bool
}

func (p *logsPane) title() string { return "Logs" }

func (p *logsPane) keys() []key.Binding {
	return append([]key.Binding{p.kk.Search, p.kk.Next, p.kk.Prev}, scrollKeys()...)
}

func (p *logsPane) deactivate() {
	if p.cancel != nil {
		p.cancel()
		p.cancel = nil
	}
	p.key = ""
}

func (p *logsPane) activate(sel selection) tea.Cmd {
	k := sel.key()
	if !sel.isContainer() {
		p.deactivate()
		p.entries, p.err = nil, nil
		return nil
	}
	if k == p.key && p.cancel != nil {
		return nil
	}
	p.deactivate()
	p.key, p.entries, p.err, p.ended, p.follow, p.offset = k, nil, nil, false, true, 0
	ctx, cancel := context.WithCancel(p.ctx)
	b, id := p.b, sel.container.ID
	return func() tea.Msg {
		ch, err := b.Logs(ctx, id, engine.LogOptions{Follow: true, Tail: 1000, Stdout: true, Stderr: true})
		return logsStartedMsg{key: k, ch: ch, err: err, cancel: cancel}
	}
}

// nextLogs waits for the next entries of ch and takes what else is ready, so a chatty
// container costs one message per burst rather than one per line.
func nextLogs(k string, ch <-chan engine.LogEntry) tea.Cmd {
	return func() tea.Msg {
		e, ok := <-ch
		if !ok {
			return logBatchMsg{key: k, ch: ch, closed: true}
		}
		batch := []engine.LogEntry{e}
		for len(batch) < 512 {
			select {
			case e, ok := <-ch:
				if !ok {
					return logBatchMsg{key: k, ch: ch, entries: batch, closed: true}
				}
				batch = append(batch, e)
			default:
				return logBatchMsg{key: k, ch: ch, entries: batch}
			}
		}
		return logBatchMsg{key: k, ch: ch, entries: batch}
	}
}

func (p *logsPane) update(msg tea.Msg) tea.Cmd {
	switch m := msg.(type) {
	case logsStartedMsg:
		if m.key != p.key {
			m.cancel()
			return nil
		}
		p.cancel = m.cancel
		if m.err != nil {
			p.err = m.err
			return nil
		}
		return nextLogs(m.key, m.ch)
	case logBatchMsg:
		if m.key != p.key {
			return nil
		}
		p.entries = append(p.entries, m.entries...)
		if over := len(p.entries) - maxLogLines; over > 0 {
			p.entries = append(p.entries[:0:0], p.entries[over:]...)
		}
		if m.closed {
			p.ended = true
			return nil
		}
		return nextLogs(m.key, m.ch)
	}
	return nil
}

func (p *logsPane) handleKey(k tea.KeyPressMsg) (bool, tea.Cmd) {
	if p.searching {
		switch k.String() {
		case "esc":
			p.searching = false
			p.search.Blur()
			p.query = ""
			return true, nil
		case "enter":
			p.searching = false
			p.search.Blur()
			p.query = p.search.Value()
			p.matchAt = len(p.entries)
			p.findMatch(-1)
			return true, nil
		}
		var cmd tea.Cmd
		p.search, cmd = p.search.Update(k)
		return true, cmd
	}
	switch {
	case key.Matches(k, p.kk.Search):
		p.searching = true
		p.search.SetValue("")
		return true, p.search.Focus()
	case key.Matches(k, p.kk.Next) && p.query != "":
		p.findMatch(1)
		return true, nil
	case key.Matches(k, p.kk.Prev) && p.query != "":
		p.findMatch(-1)
		return true, nil
	}
	if p.follow {
		p.offset = max(len(p.entries)-1, 0)
	}
	if !scrollBy(&p.offset, k) {
		return false, nil
	}
	p.follow = key.Matches(k, keyBottom)
	return true, nil
}

// findMatch moves to the next (dir 1) or previous (dir -1) line containing the query.
func (p *logsPane) findMatch(dir int) {
	q := strings.ToLower(p.query)
	for i, n := p.matchAt+dir, 0; n < len(p.entries); i, n = i+dir, n+1 {
		i = (i + len(p.entries)) % len(p.entries)
		if strings.Contains(strings.ToLower(p.entries[i].Line), q) {
			p.matchAt, p.offset, p.follow = i, i, false
			return
		}
	}
}

func (p *logsPane) view(width, height int) string {
	t := p.th
	if p.key == "" {
		return t.Paint(&t.Muted, "select a container to see its log")
	}
	if p.err != nil {
		return fitLines([]string{t.Paint(&t.StatusError, p.err.Error())}, width)
	}
	status := "following"
	switch {
	case p.ended:
		status = "end of log"
	case !p.follow:
		status = "paused (G follows)"
	}
	foot := t.Paint(&t.Muted, pad(status, width))
	if p.searching {
		s := p.search
		s.SetWidth(max(width-2, 1))
		foot = s.View()
	} else if p.query != "" {
		foot = t.Paint(&t.Muted, pad(status+" · /"+p.query+" (n/N)", width))
	}
	bodyH := height - 1
	end := len(p.entries)
	if !p.follow {
		end = min(p.offset+bodyH, len(p.entries))
		if end < bodyH {
			end = min(bodyH, len(p.entries))
		}
	}
	start := max(0, end-bodyH)
	lines := make([]string, 0, height)
	if len(p.entries) == 0 {
		lines = append(lines, t.Paint(&t.Muted, "(no output yet)"))
	}
	q := strings.ToLower(p.query)
	for i := start; i < end; i++ {
		e := p.entries[i]
		line := cleanLine(e.Line)
		line = pad(line, width)
		switch {
		case q != "" && i == p.matchAt:
			line = t.Paint(&t.MatchCurrent, line)
		case q != "" && strings.Contains(strings.ToLower(e.Line), q):
			line = t.Paint(&t.Match, line)
		case e.Stream == "stderr":
			line = t.Paint(&t.Warn, line)
		}
		lines = append(lines, line)
	}
	for len(lines) < bodyH {
		lines = append(lines, "")
	}
	lines = append(lines, foot)
	return fitLines(lines, width)
}

// cleanLine makes a log line safe to draw: a tty container's log holds the console's raw
// bytes, whose escape sequences and carriage returns would move the workbench's cursor.
func cleanLine(s string) string {
	s = strings.TrimRight(ansi.Strip(s), "\r\n")
	if i := strings.LastIndexByte(s, '\r'); i >= 0 {
		// A carriage return redraws the line: what follows the last one is what shows.
		if rest := s[i+1:]; rest != "" {
			s = rest
		} else {
			s = s[:i]
		}
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return ' '
		case r < 0x20 || r == 0x7f:
			return -1
		}
		return r
	}, s)
}
