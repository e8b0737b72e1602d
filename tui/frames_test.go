package tui

import (
	"context"
	"io"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
)

// tickerProbe is a program that looks for its renderer's ticker from inside Update, where the
// workbench's pacer looks for it, and quits.
type tickerProbe struct {
	p     **tea.Program
	found *time.Ticker
}

func (t *tickerProbe) Init() tea.Cmd { return func() tea.Msg { return "probe" } }
func (t *tickerProbe) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if msg == "probe" {
		t.found = rendererTicker(*t.p)
		return t, tea.Quit
	}
	return t, nil
}
func (t *tickerProbe) View() tea.View { return tea.NewView("probe") }

// TestFramePacerFindsTheTicker fails when a Bubble Tea upgrade moves the renderer's ticker:
// the pacer would then leave the renderer at its fixed rate (correct, but costly when idle).
func TestFramePacerFindsTheTicker(t *testing.T) {
	var p *tea.Program
	probe := &tickerProbe{p: &p}
	p = tea.NewProgram(probe, tea.WithInput(nil), tea.WithOutput(io.Discard), tea.WithWindowSize(80, 24))
	if _, err := p.Run(); err != nil {
		t.Fatal(err)
	}
	if probe.found == nil {
		t.Fatal("no *time.Ticker in tea.Program's ticker field: the frame pacer cannot slow the renderer")
	}
}

// resets records the intervals the pacer gives the renderer's ticker.
type resets []time.Duration

func (r *resets) Reset(d time.Duration) { *r = append(*r, d) }

// restCheck runs cmd, a rest check's tick, and returns its message.
func restCheck(t *testing.T, cmd tea.Cmd) frameRestMsg {
	t.Helper()
	if cmd == nil {
		t.Fatal("no rest check armed")
	}
	msg, ok := cmd().(frameRestMsg)
	if !ok {
		t.Fatalf("rest check delivered %T", msg)
	}
	return msg
}

func TestFramePacer(t *testing.T) {
	var got resets
	m := New(context.Background(), newFake(2), Options{})
	m.pacer = &framePacer{find: func() resetter { return &got }, frame: time.Millisecond, rest: time.Second, fast: true}
	f := m.pacer

	// The first frames are drawn at the full rate; a quiet check then slows the ticker.
	first := restCheck(t, f.start())
	if next := f.onRest(first); next == nil {
		t.Fatal("a check after messages must check again, not rest")
	} else if f.onRest(restCheck(t, next)) != nil || f.fast {
		t.Fatal("a quiet check must put the renderer to rest")
	}
	if len(got) != 1 || got[0] != time.Second {
		t.Fatalf("resets %v, want [1s]", got)
	}

	// A message wakes it at once to the full rate, and arms a new check.
	_, cmd := m.Update(sizeMsg(100, 30))
	if !f.fast || len(got) != 2 || got[1] != time.Millisecond {
		t.Fatalf("after a message: fast %v, resets %v", f.fast, got)
	}
	if cmd == nil {
		t.Fatal("waking armed no rest check")
	}
	// A stale check (an older generation) changes nothing.
	if f.onRest(frameRestMsg{gen: f.gen - 1}) != nil || !f.fast {
		t.Fatal("a stale rest check acted")
	}
	// More messages while awake do not reset the ticker again.
	m.Update(sizeMsg(110, 30))
	if len(got) != 2 {
		t.Fatalf("resets %v while already awake", got)
	}
	// A message while awake keeps it awake past the next check; a quiet one then rests.
	if next := f.onRest(frameRestMsg{gen: f.gen}); next == nil || !f.fast {
		t.Fatal("a check after a message while awake put the renderer to rest")
	} else if f.onRest(restCheck(t, next)) != nil || f.fast {
		t.Fatal("a quiet check after it did not rest")
	}
	// Woken by one message and nothing after: the check armed by the wake rests at once (one
	// check, not two, for each stats tick of an idle workbench).
	_, cmd = m.Update(sizeMsg(120, 30))
	if !f.fast || len(got) != 4 || got[3] != time.Millisecond {
		t.Fatalf("after a message: fast %v, resets %v", f.fast, got)
	}
	if f.onRest(restCheck(t, cmd)) != nil || f.fast {
		t.Fatal("the wake's own check did not put a quiet renderer to rest")
	}
}

// TestViewCachedUntilAMessageChangesSomething: the pacer's rest checks change nothing on
// screen, so they get the last frame back without a redraw; any other message redraws.
func TestViewCachedUntilAMessageChangesSomething(t *testing.T) {
	h := newHarness(t, newFake(3), Options{}, 120, 40)
	first := h.m.View()
	if !h.m.clean {
		t.Fatal("a drawn view is not remembered")
	}
	h.m.pacer = &framePacer{find: func() resetter { return new(resets) }, frame: time.Millisecond, rest: time.Second, fast: true}
	h.m.Update(frameRestMsg{gen: h.m.pacer.gen})
	if !h.m.clean || h.m.View().Content != first.Content {
		t.Fatal("a rest check made the view draw again")
	}
	h.keys("down")
	if h.m.clean {
		t.Fatal("a key left the old frame in place")
	}
	if h.m.View().Content == first.Content {
		t.Fatal("moving the cursor did not change the screen")
	}
}

// TestQuietDataLeavesTheRendererAsleep: a data message that leaves the screen as it was does
// not wake the renderer; one that changes it, and any of Bubble Tea's own messages, do.
func TestQuietDataLeavesTheRendererAsleep(t *testing.T) {
	var got resets
	h := newHarness(t, newFake(3), Options{}, 120, 40)
	h.m.pacer = &framePacer{find: func() resetter { return &got }, frame: time.Millisecond, rest: time.Second}
	h.m.View()
	cs, _ := h.f.List(context.Background(), true)
	h.m.Update(containersMsg{list: cs})
	h.m.View()
	if len(got) != 0 {
		t.Fatalf("an unchanged list woke the renderer: %v", got)
	}
	h.m.Update(actionMsg{what: "stopped web"}) // the status line changes
	h.m.View()
	if len(got) != 1 {
		t.Fatalf("a changed screen did not wake the renderer: %v", got)
	}
	h.m.pacer.fast = false
	h.m.Update(tea.FocusMsg{})
	if len(got) != 2 {
		t.Fatalf("Bubble Tea's own message did not wake the renderer: %v", got)
	}
}
