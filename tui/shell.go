package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
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
// screen, ctrl-p ctrl-p sends a ctrl-p.
type shellPane struct {
	th  *theme.Theme
	b   Backend
	ctx context.Context
	kk  shellKeys

	// target is the container the session runs in; sel the one the list has selected. The
	// pane shows the session only while they are the same container.
	target     engine.Container
	sel        engine.Container
	note       string // why the selected container has no shell
	session    int
	emu        *vt.Emulator
	cancel     context.CancelFunc
	stdin      *inputQueue
	resizes    chan engine.Size
	live       bool
	exitText   string
	screen     string
	fullscreen bool
	prefix     bool // ctrl-p seen, waiting for the key that says what it means
	console    bool // attached to the container's console rather than an exec'd shell
	// noExec is set once the engine said it cannot exec: enter then attaches the console.
	noExec bool
	w, h   int
}

type shellKeys struct {
	Open, Attach, Full, Leave, FullIn key.Binding
}

func newShellPane(th *theme.Theme, b Backend, ctx context.Context) *shellPane {
	return &shellPane{th: th, b: b, ctx: ctx, w: 80, h: 24, kk: shellKeys{
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

// running is whether a shell runs in the selected container.
func (p *shellPane) running() bool { return p.live && p.sel.ID == p.target.ID }

func (p *shellPane) deactivate() {}

func (p *shellPane) activate(sel selection) tea.Cmd {
	if sel.isContainer() && sel.container.ID != p.sel.ID {
		p.sel, p.note = sel.container, ""
	}
	return nil
}

// open starts a shell in c (or attaches its console) unless one runs there already.
func (p *shellPane) open(c engine.Container, console bool) tea.Cmd {
	p.sel, p.note = c, ""
	if p.live && p.target.ID == c.ID {
		return nil
	}
	if c.State != "running" {
		p.note = c.Name + " is " + c.State + ": start it to open a shell"
		return nil
	}
	if p.noExec {
		console = true
	}
	p.stop()
	p.session++
	p.target, p.live, p.exitText, p.screen = c, true, "", ""
	p.emu = vt.NewEmulator(p.w, p.h)
	ctx, cancel := context.WithCancel(p.ctx)
	p.cancel = cancel
	stdin := newInputQueue()
	p.stdin = stdin
	p.resizes = make(chan engine.Size, 1)
	p.resizes <- engine.Size{Rows: uint16(p.h), Cols: uint16(p.w)}
	out := make(chan []byte, 64)

	// The emulator encodes our key presses and answers the program's queries (cursor
	// position, device attributes) on its own pipe: copy that to the shell's stdin. The copy
	// ends when the emulator is closed.
	emu := p.emu
	go func() {
		_, _ = io.Copy(stdin, emu)
	}()
	b, id, session := p.b, c.ID, p.session
	p.console = console
	streams := engine.AttachOptions{Stdin: stdin, Stdout: chanWriter{ctx: ctx, ch: out}, Resize: p.resizes}
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

// stop ends the running shell session, if any.
func (p *shellPane) stop() {
	if p.cancel != nil {
		p.cancel()
		p.cancel = nil
	}
	if p.stdin != nil {
		p.stdin.Close()
		p.stdin = nil
	}
	if p.emu != nil {
		p.emu.Close()
	}
	p.live, p.fullscreen, p.prefix = false, false, false
}

// errNoExec tells an engine without exec from a failed exec: the engine says "not implemented".
func errNoExec(err error) bool {
	return err != nil && strings.Contains(err.Error(), "not implemented")
}

func (p *shellPane) update(msg tea.Msg) tea.Cmd {
	switch m := msg.(type) {
	case shellOutMsg:
		if m.session != p.session || p.emu == nil {
			return nil
		}
		for _, d := range m.data {
			_, _ = p.emu.Write(d)
		}
		p.screen = p.emu.Render()
		if m.closed {
			return nil
		}
		return waitShell(m.session, m.out)
	case shellExitMsg:
		if m.session != p.session {
			return nil
		}
		wasFull := p.fullscreen
		p.stop()
		switch {
		case !p.console && errNoExec(m.err):
			// This engine cannot exec yet: the console is the shell.
			p.noExec = true
			cmd := p.open(p.target, true)
			p.sel = p.target
			p.fullscreen = wasFull
			p.exitText = "exec is not in this engine: attached the console"
			return cmd
		case errors.Is(m.err, engine.ErrDetached):
			p.exitText = "detached from the console (it keeps running)"
		case m.err != nil && !errors.Is(m.err, context.Canceled):
			p.exitText = "shell: " + m.err.Error()
		case m.err != nil:
			p.exitText = "shell closed"
		case p.console:
			p.exitText = fmt.Sprintf("the container exited with code %d", m.status.Code)
		default:
			p.exitText = fmt.Sprintf("shell exited with code %d", m.status.Code)
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
		p.emu.SendKey(vt.KeyPressEvent(tea.KeyPressMsg{Code: 'p', Mod: tea.ModCtrl}))
		if s == "ctrl+p" {
			return nil
		}
	} else if s == "ctrl+p" {
		p.prefix = true
		return nil
	}
	p.emu.SendKey(vt.KeyPressEvent(k))
	return nil
}

// paste sends pasted text, bracketed when the program asked for it.
func (p *shellPane) paste(text string) {
	if p.emu != nil {
		p.emu.Paste(text)
	}
}

// resize gives the emulator and the pty the pane's size.
func (p *shellPane) resize(w, h int) tea.Cmd {
	if w <= 0 || h <= 0 || (w == p.w && h == p.h) {
		return nil
	}
	p.w, p.h = w, h
	if p.emu != nil {
		p.emu.Resize(w, h)
		p.screen = p.emu.Render()
	}
	if p.resizes != nil {
		// Keep only the newest size: the engine reads it when it can.
		select {
		case <-p.resizes:
		default:
		}
		p.resizes <- engine.Size{Rows: uint16(h), Cols: uint16(w)}
	}
	return nil
}

func (p *shellPane) view(width, height int) string {
	t := p.th
	if p.running() {
		return p.screen
	}
	lines := []string{}
	mine := p.sel.ID == p.target.ID
	switch {
	case p.note != "":
		lines = append(lines, t.Paint(&t.Warn, p.note), "")
	case mine && p.exitText != "":
		lines = append(lines, t.Paint(&t.Warn, p.exitText), "")
	}
	if p.live && !mine {
		lines = append(lines, t.Paint(&t.Muted, "a shell runs in "+p.target.Name+": select it to return to it;"),
			t.Paint(&t.Muted, "opening one here closes that one"), "")
	}
	if p.sel.ID == "" {
		lines = append(lines, t.Paint(&t.Muted, "select a running container"))
	} else {
		lines = append(lines, t.Paint(&t.Muted, "enter or x runs /bin/sh in "+p.sel.Name+" on a pty,"),
			t.Paint(&t.Muted, "a attaches its console (press enter for a prompt), f full screen;"),
			t.Paint(&t.Muted, "ctrl-p ctrl-q leaves it running, ctrl-p f toggles full screen"))
	}
	if p.screen != "" && mine {
		lines = append(lines, "", t.Paint(&t.Subtle, "last screen:"))
		lines = append(lines, strings.Split(p.screen, "\n")...)
	}
	return fitLines(clipLines(lines, 0, height), width)
}

// fullView draws the shell over the whole window with one status line.
func (p *shellPane) fullView(width, height int) string {
	what := "/bin/sh"
	if p.console {
		what = "console"
	}
	status := p.th.Paint(&p.th.Muted, fmt.Sprintf(" %s · %s · ctrl-p ctrl-q leaves · ctrl-p f leaves full screen", p.target.Name, what))
	return p.screen + "\n" + fitLines([]string{status}, width)
}

// cursor is where the shell's cursor is on its screen, and whether the program shows it.
func (p *shellPane) cursor() (x, y int, shown bool) {
	if p.emu == nil || !p.running() {
		return 0, 0, false
	}
	pos := p.emu.CursorPosition()
	return pos.X, pos.Y, !p.emu.CursorHidden()
}
