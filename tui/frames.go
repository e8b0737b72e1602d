package tui

import (
	"reflect"
	"strings"
	"time"
	"unsafe"

	tea "charm.land/bubbletea/v2"
)

// framePacer lets Bubble Tea's renderer sleep while nothing changes.
//
// Bubble Tea v2 (2.1.1) flushes frames from a time.Ticker that runs at the program's frame rate
// for its whole life (Program.startRenderer). Each wake-up finds the view unchanged and draws
// nothing, but the wake-ups themselves cost: an empty program at 30 fps uses 0.8 % of a core on
// a 2-core VM, more than the workbench's whole budget. Upstream has two open pull requests that
// arm the ticker only while a frame is pending (charmbracelet/bubbletea#1776 and #1796); until
// one lands, the pacer does the same from outside. Every change of the view comes from Update
// (View is pure), so Update wakes the ticker to the full frame rate when the screen changed,
// and a rest check a frame and a half later slows it to one tick in ten seconds once nothing
// changed since the previous check. The slow tick is a safety net; nothing is meant to need it.
//
// The ticker is the Program's unexported field "ticker", reached by reflection: the
// TestFramePacerFindsTheTicker test fails when a Bubble Tea upgrade renames or retypes it, and
// without it the pacer does nothing (the renderer keeps its fixed rate).
type framePacer struct {
	find    func() resetter // the renderer's ticker, looked up at first use
	ticker  resetter
	frame   time.Duration // the renderer's interval at its full rate
	rest    time.Duration // its interval while idle
	fast    bool          // the ticker runs at the full rate (it starts so)
	changed bool          // a message came since the last rest check
	gen     int           // the current rest check; older ones are ignored
}

// resetter is the part of *time.Ticker the pacer uses (a recorder in tests).
type resetter interface{ Reset(time.Duration) }

// frameRestMsg is the pacer's rest check. It changes nothing on screen, so Update neither
// counts it as a change nor draws again for it.
type frameRestMsg struct{ gen int }

// restInterval is the renderer's interval while idle. Every change of the screen wakes it, so
// this tick is a safety net only; each wake-up of an idle process costs about 0.03-0.1 % of a
// core on a small VM.
const restInterval = 10 * time.Second

// restAfter is how long without a change puts the renderer to rest, in frames: more than
// one, so that a tick of the fast ticker has flushed the last change.
const restAfter = 1.5

// PaceFrames makes the workbench slow p's renderer while idle; fps is the rate p was made with
// (tea.WithFPS). Call it before p.Run.
func (m *Model) PaceFrames(p *tea.Program, fps int) {
	if fps < 1 {
		fps = 60 // Bubble Tea's default
	}
	find := func() resetter {
		if t := rendererTicker(p); t != nil {
			return t
		}
		return nil
	}
	m.pacer = &framePacer{find: find, frame: time.Second / time.Duration(fps), rest: restInterval, fast: true}
}

// rendererTicker is p's frame ticker, or nil when p has none (not running, or a Bubble Tea
// whose Program no longer keeps one in "ticker").
func rendererTicker(p *tea.Program) *time.Ticker {
	if p == nil {
		return nil
	}
	f := reflect.ValueOf(p).Elem().FieldByName("ticker")
	if !f.IsValid() || f.Type() != reflect.TypeFor[*time.Ticker]() {
		return nil
	}
	return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Interface().(*time.Ticker)
}

// start arms the first rest check (from Init: the first frames are drawn at the full rate).
func (f *framePacer) start() tea.Cmd {
	if f == nil {
		return nil
	}
	f.changed = true
	return f.check()
}

func (f *framePacer) check() tea.Cmd {
	f.gen++
	gen := f.gen
	return tea.Tick(time.Duration(restAfter*float64(f.frame)), func(time.Time) tea.Msg { return frameRestMsg{gen: gen} })
}

// wake is called for every message that may change the view: the renderer runs at its full
// rate until a rest check finds a quiet interval.
func (f *framePacer) wake() tea.Cmd {
	if f == nil {
		return nil
	}
	f.changed = true
	if f.fast {
		return nil
	}
	if f.ticker == nil {
		// The Program made its ticker in Run, before the first Update.
		f.ticker = f.find()
		if f.ticker == nil {
			return nil
		}
	}
	f.ticker.Reset(f.frame)
	f.fast = true
	// The check armed here comes after a fast tick has drawn this message's frame: it rests
	// unless another message comes first. (Counting this one as a change would keep the
	// renderer awake for a second check, two or three more wake-ups every stats tick.)
	f.changed = false
	return f.check()
}

// onRest slows the renderer if no message came since the last check, or checks again later.
func (f *framePacer) onRest(msg frameRestMsg) tea.Cmd {
	if f == nil || msg.gen != f.gen || !f.fast {
		return nil
	}
	if f.changed {
		f.changed = false
		return f.check()
	}
	if f.ticker == nil {
		f.ticker = f.find()
	}
	if f.ticker == nil {
		return nil // fixed rate: nothing to slow
	}
	f.ticker.Reset(f.rest)
	f.fast = false
	return nil
}

// fromBubbleTea is whether msg is one of Bubble Tea's own messages (keys, mouse, sizes,
// terminal reports) rather than the workbench's.
func fromBubbleTea(msg tea.Msg) bool {
	t := reflect.TypeOf(msg)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t == nil || strings.HasPrefix(t.PkgPath(), "charm.land/bubbletea/")
}

// sameFrame is whether two views draw the same screen (the workbench sets the other fields
// of tea.View to constants).
func sameFrame(a, b tea.View) bool {
	if a.Content != b.Content || (a.Cursor == nil) != (b.Cursor == nil) {
		return false
	}
	return a.Cursor == nil || a.Cursor.Position == b.Cursor.Position
}
