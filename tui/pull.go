package tui

import (
	"context"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/glassbox/glassbox/engine"
	"github.com/glassbox/glassbox/theme"
	"github.com/glassbox/glassbox/tui/chart"
)

// pullDialog asks for a reference and pulls it, drawing each layer's progress live.
type pullDialog struct {
	th  *theme.Theme
	b   Backend
	ctx context.Context

	input   textinput.Model
	pulling bool
	done    bool
	cancel  context.CancelFunc
	ref     string
	order   []string
	layers  map[string]engine.PullProgress
	phase   string
	result  engine.ImageSummary
	err     error

	submit, close key.Binding
}

// pullEvent is one progress report or the end of the pull, carried from the engine's
// goroutines to Update through one channel.
type pullEvent struct {
	progress *engine.PullProgress
	done     bool
	summary  engine.ImageSummary
	err      error
}

type pullEventsMsg struct {
	ch     <-chan pullEvent
	events []pullEvent
}

func newPullDialog(th *theme.Theme, b Backend, ctx context.Context) *pullDialog {
	ti := newInput("image: ", "127.0.0.1:5000/busybox:latest")
	ti.SetWidth(48)
	return &pullDialog{th: th, b: b, ctx: ctx, input: ti, layers: map[string]engine.PullProgress{},
		submit: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "pull")),
		close:  key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel/close")),
	}
}

func (d *pullDialog) init() tea.Cmd { return d.input.Focus() }

func (d *pullDialog) keys() []key.Binding { return []key.Binding{d.submit, d.close} }

func (d *pullDialog) start(ref string) tea.Cmd {
	d.pulling, d.ref, d.phase = true, ref, "resolving"
	ctx, cancel := context.WithCancel(d.ctx)
	d.cancel = cancel
	ch := make(chan pullEvent, 256)
	b := d.b
	go func() {
		// The engine calls Progress from its download goroutines; each report is copied into
		// the channel, and the pull's end is the last event.
		sum, err := b.Pull(ctx, ref, engine.PullOptions{Progress: func(p engine.PullProgress) {
			select {
			case ch <- pullEvent{progress: &p}:
			case <-ctx.Done():
			}
		}})
		ch <- pullEvent{done: true, summary: sum, err: err}
		close(ch)
	}()
	return waitPull(ch)
}

// waitPull takes the next pull events, as many as are ready.
func waitPull(ch <-chan pullEvent) tea.Cmd {
	return func() tea.Msg {
		e, ok := <-ch
		if !ok {
			return nil
		}
		evs := []pullEvent{e}
		for len(evs) < 256 {
			select {
			case e, ok := <-ch:
				if !ok {
					return pullEventsMsg{ch: ch, events: evs}
				}
				evs = append(evs, e)
			default:
				return pullEventsMsg{ch: ch, events: evs}
			}
		}
		return pullEventsMsg{ch: ch, events: evs}
	}
}

func (d *pullDialog) update(msg tea.Msg) (dialog, tea.Cmd) {
	switch m := msg.(type) {
	case pullEventsMsg:
		var finish tea.Cmd
		for _, e := range m.events {
			if e.done {
				d.done, d.pulling, d.result, d.err = true, false, e.summary, e.err
				what := "pulled " + d.ref
				err := e.err
				finish = func() tea.Msg { return actionMsg{what: what, err: err} }
				continue
			}
			p := *e.progress
			if p.Layer == "" {
				d.phase = p.Phase
				continue
			}
			if _, ok := d.layers[p.Layer]; !ok {
				d.order = append(d.order, p.Layer)
			}
			d.layers[p.Layer] = p
		}
		if d.done {
			return d, finish
		}
		return d, waitPull(m.ch)
	case tea.KeyPressMsg:
		switch {
		case key.Matches(m, d.close):
			if d.cancel != nil && d.pulling {
				d.cancel()
				return d, nil // the pull's end closes the dialog's progress
			}
			return nil, nil
		case d.done && key.Matches(m, d.submit):
			return nil, nil
		case !d.pulling && !d.done && key.Matches(m, d.submit):
			ref := strings.TrimSpace(d.input.Value())
			if ref == "" {
				return d, nil
			}
			d.input.Blur()
			return d, d.start(ref)
		}
		if !d.pulling && !d.done {
			var cmd tea.Cmd
			d.input, cmd = d.input.Update(m)
			return d, cmd
		}
	}
	return d, nil
}

func (d *pullDialog) view(width int) string {
	t := d.th
	inner := max(width-4, 20)
	lines := []string{t.Paint(&t.DialogTitle, "Pull an image")}
	if !d.pulling && !d.done {
		lines = append(lines, d.input.View(), t.Paint(&t.Muted, "loopback registries are plain HTTP, as docker does"))
		return t.Dialog.Width(width).Render(strings.Join(lines, "\n"))
	}
	lines = append(lines, t.Paint(&t.Bold, d.ref)+"  "+t.Paint(&t.Muted, d.phase))
	barW := max(inner-40, 8)
	for _, l := range d.order {
		p := d.layers[l]
		frac := 0.0
		if p.Total > 0 {
			frac = float64(p.Current) / float64(p.Total)
		}
		if p.Phase == "done" || p.Phase == "exists" || p.Phase == "unpacking" {
			frac = 1
		}
		full, empty := chart.Bar(frac, barW)
		phase := p.Phase
		style := t.Text
		switch p.Phase {
		case "failed":
			style = t.Bad
			phase += " " + p.Err
		case "done", "exists":
			style = t.Good
		}
		size := ""
		if p.Total > 0 {
			size = humanBytes(p.Current) + "/" + humanBytes(p.Total)
		}
		lines = append(lines, fmt.Sprintf("%s %s%s %-10s %s", shortID(l), t.Paint(&t.BarFull, full), t.Paint(&t.BarEmpty, empty), style.Render(pad(phase, 10)), t.Paint(&t.Muted, size)))
	}
	switch {
	case d.done && d.err != nil:
		lines = append(lines, "", t.Paint(&t.StatusError, d.err.Error()), t.Paint(&t.Muted, "enter or esc closes"))
	case d.done:
		lines = append(lines, "", t.Paint(&t.Good, fmt.Sprintf("pulled %s: %s, %d layers", shortID(d.result.ID), humanBytes(d.result.Size), d.result.Layers)), t.Paint(&t.Muted, "enter or esc closes"))
	}
	return t.Dialog.Width(width).Render(strings.Join(lines, "\n"))
}
