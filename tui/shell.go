package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/vt"

	"github.com/glassbox/glassbox/engine"
	"github.com/glassbox/glassbox/theme"
)

// shellPane is the Shell tab: a shell exec'd in the container on a pty (or the container's own
// console, attached), its output fed to a VT emulator (charmbracelet/x/vt) whose screen is drawn
// in the pane, so full-screen programs, colours and cursor keys work while the rest of the
// workbench keeps updating. While the pane has focus every key goes to the shell except the
// ctrl-p prefix: ctrl-p ctrl-q gives focus back (the shell runs on), ctrl-p f toggles full
// screen, ctrl-p ctrl-p sends a ctrl-p. Mouse events reach the program in it when it asked for
// them (vi's or top's mouse mode), in the encoding it asked for.
//
// One session per container at a time: enter or x on a container whose shell still runs
// returns to that session (its screen, its scrollback, its running program) instead of
// starting a second one; sessions in several containers run side by side, each drawn when its
// container is selected. A session ends when its shell exits (or the container stops); enter
// then starts a new one.
type shellPane struct {
	th  *theme.Theme
	b   Backend
	ctx context.Context
	kk  shellKeys

	// sessions are the shells by container ID, running or ended (an ended one keeps its last
	// screen and why it ended); sel is the container the list has selected.
	sessions   map[string]*shellSession
	sel        engine.Container
	note       string // why the selected container has no shell
	seq        int    // numbers sessions, so messages of an ended one are ignored
	fullscreen bool
	prefix     bool // ctrl-p seen, waiting for the key that says what it means
	// noExec is set once the engine said it cannot exec: enter then attaches the console.
	noExec bool
	w, h   int
}

// shellSession is one shell (or console) in one container.
type shellSession struct {
	id       int
	target   engine.Container
	emu      *vt.Emulator
	cancel   context.CancelFunc
	stdin    *inputQueue
	resizes  chan engine.Size
	live     bool
	console  bool // attached to the container's console rather than an exec'd shell
	exitText string
	screen   string
}

type shellKeys struct {
	Open, Attach, Full, Leave, FullIn key.Binding
}

func newShellPane(th *theme.Theme, b Backend, ctx context.Context) *shellPane {
	return &shellPane{th: th, b: b, ctx: ctx, w: 80, h: 24, sessions: map[string]*shellSession{}, kk: shellKeys{
		Open:   key.NewBinding(key.WithKeys("enter", "x"), key.WithHelp("enter/x", "exec /bin/sh in it")),
		Attach: key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "attach its console")),
		Full:   key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "full screen")),
		Leave:  key.NewBinding(key.WithKeys("ctrl+p ctrl+q"), key.WithHelp("ctrl-p ctrl-q", "leave (it keeps running)")),
		FullIn: key.NewBinding(key.WithKeys("ctrl+p f"), key.WithHelp("ctrl-p f", "full screen on/off")),
	}}
}

type (
	shellOutMsg struct {
		session int
		out     <-chan []byte
		data    [][]byte
		closed  bool
	}
	shellExitMsg struct {
		session int
		status  engine.ExitStatus
		err     error
	}
)

func (p *shellPane) title() string { return "Shell" }

func (p *shellPane) keys() []key.Binding {
	if p.running() {
		return []key.Binding{p.kk.Leave, p.kk.FullIn}
	}
	return []key.Binding{p.kk.Open, p.kk.Attach, p.kk.Full, p.kk.Leave, p.kk.FullIn}
}

// helpKeys are every key of the pane, for the help view.
func (p *shellPane) helpKeys() []key.Binding {
	return []key.Binding{p.kk.Open, p.kk.Attach, p.kk.Full, p.kk.Leave, p.kk.FullIn}
}

// current is the selected container's session, if it has one.
func (p *shellPane) current() *shellSession { return p.sessions[p.sel.ID] }

// running is whether a shell runs in the selected container.
func (p *shellPane) running() bool {
	s := p.current()
	return s != nil && s.live
}

func (p *shellPane) deactivate() {}

func (p *shellPane) activate(sel selection) tea.Cmd {
	if sel.isContainer() && sel.container.ID != p.sel.ID {
		p.sel, p.note = sel.container, ""
	}
	return nil
}

// open returns to c's running shell, or starts one (or attaches its console).
func (p *shellPane) open(c engine.Container, console bool) tea.Cmd {
	p.sel, p.note = c, ""
	if p.running() {
		return nil
	}
	if c.State != "running" {
		p.note = c.Name + " is " + c.State + ": start it to open a shell"
		return nil
	}
	return p.start(c, console || p.noExec)
}

// start runs a new session in c, in place of an ended one.
func (p *shellPane) start(c engine.Container, console bool) tea.Cmd {
	if old := p.sessions[c.ID]; old != nil {
		old.stop()
	}
	p.seq++
	s := &shellSession{id: p.seq, target: c, live: true, console: console, emu: vt.NewEmulator(p.w, p.h)}
	p.sessions[c.ID] = s
	ctx, cancel := context.WithCancel(p.ctx)
	s.cancel = cancel
	stdin := newInputQueue()
	s.stdin = stdin
	s.resizes = make(chan engine.Size, 1)
	s.resizes <- engine.Size{Rows: uint16(p.h), Cols: uint16(p.w)}
	out := make(chan []byte, 64)

	// The emulator encodes our key presses and answers the program's queries (cursor
	// position, device attributes) on its own pipe: copy that to the shell's stdin. The copy
	// ends when the emulator is closed.
	emu := s.emu
	go func() {
		_, _ = io.Copy(stdin, emu)
	}()
	b, id, session := p.b, c.ID, s.id
	streams := engine.AttachOptions{Stdin: stdin, Stdout: chanWriter{ctx: ctx, ch: out}, Resize: s.resizes}
	run := func() tea.Msg {
		var st engine.ExitStatus
		var err error
		if console {
			st, err = b.Attach(ctx, id, streams)
		} else {
			st, err = b.Exec(ctx, id, engine.ExecOptions{
				Cmd: []string{"/bin/sh"}, Tty: true, Interactive: true,
				Env:           []string{"TERM=xterm-256color"},
				AttachOptions: streams,
			})
		}
		close(out)
		return shellExitMsg{session: session, status: st, err: err}
	}
	return tea.Batch(run, waitShell(session, out))
}

// chanWriter hands the shell's output to Update as copies, so only Update touches the emulator.
type chanWriter struct {
	ctx context.Context
	ch  chan<- []byte
}

func (w chanWriter) Write(b []byte) (int, error) {
	select {
	case w.ch <- append([]byte(nil), b...):
		return len(b), nil
	case <-w.ctx.Done():
		return 0, w.ctx.Err()
	}
}

// waitShell delivers what the shell wrote, up to 64 writes at a time, so a burst (top
// redrawing) costs one render.
func waitShell(session int, out <-chan []byte) tea.Cmd {
	return func() tea.Msg {
		d, ok := <-out
		if !ok {
			return shellOutMsg{session: session, closed: true}
		}
		data := [][]byte{d}
		for len(data) < 64 {
			select {
			case d, ok := <-out:
				if !ok {
					return shellOutMsg{session: session, out: out, data: data, closed: true}
				}
				data = append(data, d)
			default:
				return shellOutMsg{session: session, out: out, data: data}
			}
		}
		return shellOutMsg{session: session, out: out, data: data}
	}
}

// stop ends the session's shell, if it runs.
func (s *shellSession) stop() {
	if s.cancel != nil {
		s.cancel()
		s.cancel = nil
	}
	if s.stdin != nil {
		s.stdin.Close()
		s.stdin = nil
	}
	if s.emu != nil {
		s.emu.Close()
	}
	s.live = false
}

// session finds a session by its number.
func (p *shellPane) session(id int) *shellSession {
	for _, s := range p.sessions {
		if s.id == id {
			return s
		}
	}
	return nil
}

// errNoExec tells an engine without exec from a failed exec: the engine says "not implemented".
func errNoExec(err error) bool {
	return err != nil && strings.Contains(err.Error(), "not implemented")
}

func (p *shellPane) update(msg tea.Msg) tea.Cmd {
	switch m := msg.(type) {
	case shellOutMsg:
		s := p.session(m.session)
		if s == nil || !s.live {
			return nil
		}
		for _, d := range m.data {
			_, _ = s.emu.Write(d)
		}
		s.screen = s.emu.Render()
		if m.closed {
			return nil
		}
		return waitShell(m.session, m.out)
	case shellExitMsg:
		s := p.session(m.session)
		if s == nil {
			return nil
		}
		shown, wasFull := s == p.current(), p.fullscreen
		s.stop()
		if shown {
			p.fullscreen, p.prefix = false, false
		}
		switch {
		case !s.console && errNoExec(m.err):
			// This engine cannot exec yet: the console is the shell.
			p.noExec = true
			cmd := p.start(s.target, true)
			p.fullscreen = shown && wasFull
			p.sessions[s.target.ID].exitText = "exec is not in this engine: attached the console"
			return cmd
		case errors.Is(m.err, engine.ErrDetached):
			s.exitText = "detached from the console (it keeps running)"
		case m.err != nil && !errors.Is(m.err, context.Canceled):
			s.exitText = "shell: " + m.err.Error()
		case m.err != nil:
			s.exitText = "shell closed"
		case s.console:
			s.exitText = fmt.Sprintf("the container exited with code %d", m.status.Code)
		default:
			s.exitText = fmt.Sprintf("shell exited with code %d", m.status.Code)
		}
	}
	return nil
}

// handleKey is used while no shell takes the keys: enter or x opens one, a attaches the console.
func (p *shellPane) handleKey(k tea.KeyPressMsg) (bool, tea.Cmd) {
	if p.sel.ID == "" {
		return false, nil
	}
	switch {
	case key.Matches(k, p.kk.Open):
		return true, p.open(p.sel, false)
	case key.Matches(k, p.kk.Attach):
		return true, p.open(p.sel, true)
	case key.Matches(k, p.kk.Full):
		cmd := p.open(p.sel, false)
		p.fullscreen = p.running()
		return true, cmd
	}
	return false, nil
}

// leaveMsg asks the root model to take focus back from the shell.
type leaveMsg struct{}

// handleInput sends a key to the running shell, except the ctrl-p prefix's keys.
func (p *shellPane) handleInput(k tea.KeyPressMsg) tea.Cmd {
	sh := p.current()
	if sh == nil || !sh.live {
		return nil
	}
	s := k.String()
	if p.prefix {
		p.prefix = false
		switch s {
		case "ctrl+q":
			p.fullscreen = false
			return func() tea.Msg { return leaveMsg{} }
		case "f":
			p.fullscreen = !p.fullscreen
			return nil
		}
		sh.emu.SendKey(vt.KeyPressEvent(tea.KeyPressMsg{Code: 'p', Mod: tea.ModCtrl}))
		if s == "ctrl+p" {
			return nil
		}
	} else if s == "ctrl+p" {
		p.prefix = true
		return nil
	}
	sh.emu.SendKey(vt.KeyPressEvent(k))
	return nil
}

// mouse sends a mouse event, at (x, y) on the shell's screen, to the program in the shell.
// The emulator writes it only if the program turned a mouse mode on (DECSET 1000-1003), in
// the encoding it chose (SGR with 1006, X10 otherwise); else the event is dropped, as a
// terminal drops it.
func (p *shellPane) mouse(msg tea.MouseMsg, x, y int) {
	sh := p.current()
	if sh == nil || !sh.live || x < 0 || y < 0 || x >= p.w || y >= p.h {
		return
	}
	m := msg.Mouse()
	m.X, m.Y = x, y
	switch msg.(type) {
	case tea.MouseClickMsg:
		sh.emu.SendMouse(vt.MouseClick(m))
	case tea.MouseReleaseMsg:
		sh.emu.SendMouse(vt.MouseRelease(m))
	case tea.MouseWheelMsg:
		sh.emu.SendMouse(vt.MouseWheel(m))
	case tea.MouseMotionMsg:
		sh.emu.SendMouse(vt.MouseMotion(m))
	}
}

// paste sends pasted text, bracketed when the program asked for it.
func (p *shellPane) paste(text string) {
	if sh := p.current(); sh != nil && sh.live {
		sh.emu.Paste(text)
	}
}

// resize gives every session's emulator and pty the pane's size.
func (p *shellPane) resize(w, h int) tea.Cmd {
	if w <= 0 || h <= 0 || (w == p.w && h == p.h) {
		return nil
	}
	p.w, p.h = w, h
	for _, s := range p.sessions {
		if !s.live {
			continue
		}
		s.emu.Resize(w, h)
		s.screen = s.emu.Render()
		// Keep only the newest size: the engine reads it when it can.
		select {
		case <-s.resizes:
		default:
		}
		s.resizes <- engine.Size{Rows: uint16(h), Cols: uint16(w)}
	}
	return nil
}

func (p *shellPane) view(width, height int) string {
	t := p.th
	sh := p.current()
	if sh != nil && sh.live {
		return sh.screen
	}
	lines := []string{}
	switch {
	case p.note != "":
		lines = append(lines, t.Paint(&t.Warn, p.note), "")
	case sh != nil && sh.exitText != "":
		lines = append(lines, t.Paint(&t.Warn, sh.exitText), "")
	}
	if others := p.liveElsewhere(); len(others) > 0 {
		lines = append(lines, t.Paint(&t.Muted, "shells run in "+strings.Join(others, ", ")+": select one to return to it"), "")
	}
	if p.sel.ID == "" {
		lines = append(lines, t.Paint(&t.Muted, "select a running container"))
	} else {
		lines = append(lines, t.Paint(&t.Muted, "enter or x runs /bin/sh in "+p.sel.Name+" on a pty,"),
			t.Paint(&t.Muted, "a attaches its console (press enter for a prompt), f full screen;"),
			t.Paint(&t.Muted, "ctrl-p ctrl-q leaves it running, ctrl-p f toggles full screen"))
	}
	if sh != nil && sh.screen != "" {
		lines = append(lines, "", t.Paint(&t.Subtle, "last screen:"))
		lines = append(lines, strings.Split(sh.screen, "\n")...)
	}
	return fitLines(clipLines(lines, 0, height), width)
}

// liveElsewhere names the containers, other than the selected one, with a running shell.
func (p *shellPane) liveElsewhere() []string {
	var names []string
	for id, s := range p.sessions {
		if s.live && id != p.sel.ID {
			names = append(names, s.target.Name)
		}
	}
	sort.Strings(names)
	return names
}

// fullView draws the shell over the whole window with one status line.
func (p *shellPane) fullView(width, height int) string {
	sh := p.current()
	if sh == nil {
		return ""
	}
	what := "/bin/sh"
	if sh.console {
		what = "console"
	}
	status := p.th.Paint(&p.th.Muted, fmt.Sprintf(" %s · %s · ctrl-p ctrl-q leaves · ctrl-p f leaves full screen", sh.target.Name, what))
	return sh.screen + "\n" + fitLines([]string{status}, width)
}

// cursor is where the shell's cursor is on its screen, and whether the program shows it.
func (p *shellPane) cursor() (x, y int, shown bool) {
	sh := p.current()
	if sh == nil || !sh.live {
		return 0, 0, false
	}
	pos := sh.emu.CursorPosition()
	return pos.X, pos.Y, !sh.emu.CursorHidden()
}
