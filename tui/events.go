package tui

import (
	"context"

	tea "charm.land/bubbletea/v2"

	"github.com/glassbox/glassbox/engine"
)

// eventsMsg carries the engine's lifecycle events that arrived together (create, start, die,
// oom, destroy), from glassbox processes and shims alike: the list changes when they do,
// not at the next tick.
type eventsMsg struct {
	ch     <-chan engine.Event
	events []engine.Event
	err    error
}

// subscribe starts listening to the engine's events; the subscription lives as long as the
// workbench's context.
func (m *Model) subscribe() tea.Cmd {
	b, ctx := m.b, m.ctx
	return func() tea.Msg {
		ch, err := b.Events(ctx)
		if err != nil {
			return eventsMsg{err: err}
		}
		return waitEvents(ctx, ch)()
	}
}

// waitEvents waits for the next events and takes those already queued behind them.
func waitEvents(ctx context.Context, ch <-chan engine.Event) tea.Cmd {
	return func() tea.Msg {
		var evs []engine.Event
		select {
		case ev, ok := <-ch:
			if !ok {
				return nil
			}
			evs = append(evs, ev)
		case <-ctx.Done():
			return nil
		}
		for len(evs) < 64 {
			select {
			case ev, ok := <-ch:
				if !ok {
					return eventsMsg{events: evs}
				}
				evs = append(evs, ev)
			default:
				return eventsMsg{ch: ch, events: evs}
			}
		}
		return eventsMsg{ch: ch, events: evs}
	}
}

// onEvents reloads what the events changed and waits for the next ones.
func (m *Model) onEvents(msg eventsMsg) tea.Cmd {
	if msg.err != nil {
		m.setStatus("events: "+msg.err.Error()+" (the list refreshes on its tick)", true)
		return nil
	}
	cmds := []tea.Cmd{m.loadContainers()}
	for _, ev := range msg.events {
		if ev.Action == "oom" {
			m.setStatus(ev.Name+": the kernel's OOM killer struck", true)
		}
	}
	if msg.ch != nil {
		cmds = append(cmds, waitEvents(m.ctx, msg.ch))
	}
	return tea.Batch(cmds...)
}
