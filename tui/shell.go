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

// shellPane is the Shell tab: a shell exec'd in the container on a pty, its output fed to a VT
// emulator (charmbracelet/x/vt) whose screen is drawn in the pane, so full-screen programs,
// colours and cursor keys work while the rest of the workbench keeps updating. Keys go to the
// shell while the pane has focus; ctrl-p ctrl-q gives focus back without ending the shell.
type shellPane struct {
	th  *theme.Theme
	b   Backend
	ctx context.Context
	kk  shellKeys

	target     engine.Container
	session    int
	emu        *vt.Emulator
	cancel     context.CancelFunc
	stdin      *inputQueue
	resizes    chan engine.Size
	live       bool
	exited     bool
	exitText   string
	screen     string
	fullscreen bool
	prefix     bool // ctrl-p seen, waiting to see whether ctrl-q follows
	console    bool // attached to the container's console rather than an exec'd shell
	w, h       int
}

type shellKeys struct {
	Open, Attach, Full, Leave key.Binding
}

func newShellPane(th *theme.Theme, b Backend, ctx context.Context) *shellPane {
	return &shellPane{th: th, b: b, ctx: ctx, w: 80, h: 24, kk: shellKeys{
		Open:   key.NewBinding(key.WithKeys("enter", "x"), key.WithHelp("enter/x", "exec /bin/sh")),
		Attach: key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "attach the console")),
		Full:   key.NewBinding(key.WithKeys("ctrl+f"), key.WithHelp("ctrl+f", "full screen on/off")),
		Leave:  key.NewBinding(key.WithKeys("ctrl+p ctrl+q"), key.WithHelp("ctrl+p ctrl+q", "leave the shell (it keeps running)")),
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
	return []key.Binding{p.kk.Leave, p.kk.Full, p.kk.Open, p.kk.Attach}
}

func (p *shellPane) running() bool { return p.live }

func (p *shellPane) deactivate() {}

func (p *shellPane) activate(sel selection) tea.Cmd {
	if sel.isContainer() && sel.container.ID != p.target.ID && !p.live {
		p.target = sel.container
		p.exited, p.exitText, p.screen = false, "", ""
	}
	return nil
}

// open starts a shell in c (or attaches its console) unless one runs there already.
func (p *shellPane) open(c engine.Container, console bool) tea.Cmd {
	if p.live && p.target.ID == c.ID {
		return nil
	}
	if c.State != "running" {
		p.target, p.exited, p.exitText = c, true, c.Name+" is "+c.State+": start it to open a shell"
		return nil
	}
	p.stop()
	p.session++
	p.target, p.live, p.exited, p.exitText, p.fullscreen = c, true, false, "", false
	p.emu = vt.NewEmulator(p.w, p.h)
	ctx, cancel := context.WithCancel(p.ctx)
	p.cancel = cancel
	stdin := newInputQueue()
	p.stdin = stdin
	p.resizes = make(chan engine.Size, 1)
	p.resizes <- engine.Size{Rows: uint16(p.h), Cols: uint16(p.w)}
	out := make(chan []byte, 64)

	// The emulator answers the program's queries (cursor position, device attributes) and
	// encodes our key presses on its own pipe: copy that to the shell's stdin. The copy ends
	// when the emulator is closed.
	emu := p.emu
	go func() {
		_, _ = io.Copy(stdin, emu)
	}()
	b, id, session := p.b, c.ID, p.session
	p.console = console
	streams := engine.AttachOptions{Stdin: stdin, Stdout: chanWriter{ctx: ctx, ch: out}, Resize: p.resizes}
	exec := func() tea.Msg {
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
	return tea.Batch(exec, waitShell(session, out))
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
	p.live = false
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
		p.stop()
		p.exited = true
		switch {
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

// handleKey is used while no shell runs: enter or x opens one.
func (p *shellPane) handleKey(k tea.KeyPressMsg) (bool, tea.Cmd) {
	if p.target.ID == "" {
		return false, nil
	}
	switch {
	case key.Matches(k, p.kk.Open):
		return true, p.open(p.target, false)
	case key.Matches(k, p.kk.Attach):
		return true, p.open(p.target, true)
	}
	return false, nil
}

// leaveMsg asks the root model to take focus back from the shell.
type leaveMsg struct{}

// handleInput sends a key to the running shell, except the pane's own keys.
func (p *shellPane) handleInput(k tea.KeyPressMsg) tea.Cmd {
	s := k.String()
	if p.prefix {
		p.prefix = false
		if s == "ctrl+q" {
			p.fullscreen = false
			return func() tea.Msg { return leaveMsg{} }
		}
		p.emu.SendKey(vt.KeyPressEvent(tea.KeyPressMsg{Code: 'p', Mod: tea.ModCtrl}))
	}
	switch s {
	case "ctrl+p":
		p.prefix = true
		return nil
	case "ctrl+f":
		p.fullscreen = !p.fullscreen
		return nil
	}
	p.emu.SendKey(vt.KeyPressEvent(k))
	return nil
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
	if p.live {
		return p.screen
	}
	lines := []string{}
	if p.exitText != "" {
		lines = append(lines, t.Warn.Render(p.exitText), "")
	}
	if p.target.ID == "" {
		lines = append(lines, t.Muted.Render("select a running container"))
	} else {
		lines = append(lines, t.Muted.Render("enter or x runs /bin/sh in "+p.target.Name+" on a pty,"),
			t.Muted.Render("a attaches its console (press enter for a prompt);"),
			t.Muted.Render("ctrl-p ctrl-q leaves it running, ctrl-f makes it full screen"))
	}
	if p.screen != "" {
		lines = append(lines, "", t.Subtle.Render("last screen:"))
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
	status := p.th.Muted.Render(fmt.Sprintf(" %s · %s · ctrl-p ctrl-q leaves · ctrl-f leaves full screen", p.target.Name, what))
	return p.screen + "\n" + fitLines([]string{status}, width)
}
