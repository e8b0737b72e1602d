package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/glassbox/glassbox/engine"
)

// pullPrinter shows a pull's or load's progress: on a terminal, one bar per layer, redrawn
// in place ten times a second; otherwise one line each time a layer changes phase; with
// quiet, nothing. It also remembers whether any layer was fetched, for the closing status.
type pullPrinter struct {
	w      io.Writer
	tty    bool
	quiet  bool
	mu     sync.Mutex
	order  []string
	layers map[string]*layerState
	drawn  int // lines the last redraw printed
	worked bool
	stop   chan struct{}
	done   chan struct{}
}

type layerState struct {
	phase          string
	current, total int64
	err            string
}

func newPullPrinter(w io.Writer, quiet bool) *pullPrinter {
	p := &pullPrinter{w: w, quiet: quiet, layers: map[string]*layerState{}}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb" {
		p.tty = true
	}
	if p.tty && !quiet {
		p.stop, p.done = make(chan struct{}), make(chan struct{})
		go p.loop()
	}
	return p
}

// report is the engine's progress callback; it is called from several goroutines.
func (p *pullPrinter) report(ev engine.PullProgress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ev.Phase == "downloading" || ev.Phase == "unpacking" {
		p.worked = true
	}
	if ev.Layer == "" {
		if !p.quiet && !p.tty && ev.Phase == "resolving" {
			fmt.Fprintf(p.w, "%s: resolving\n", ev.Ref)
		}
		return
	}
	st, ok := p.layers[ev.Layer]
	if !ok {
		st = &layerState{}
		p.layers[ev.Layer] = st
		p.order = append(p.order, ev.Layer)
	}
	changed := st.phase != ev.Phase
	st.phase, st.current, st.err = ev.Phase, ev.Current, ev.Err
	if ev.Total > 0 {
		st.total = ev.Total
	}
	if changed && !p.quiet && !p.tty && ev.Phase != "waiting" {
		line := fmt.Sprintf("%s: %s", shortDigest(ev.Layer), ev.Phase)
		switch {
		case ev.Err != "":
			line += ": " + ev.Err
		case ev.Phase == "downloading" && st.total > 0:
			line += " (" + humanBytes(st.total) + ")"
		}
		fmt.Fprintln(p.w, line)
	}
}

func (p *pullPrinter) loop() {
	defer close(p.done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			p.redraw()
		case <-p.stop:
			p.redraw()
			return
		}
	}
}

// redraw moves the cursor up over the last drawing and prints every layer's bar again.
func (p *pullPrinter) redraw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	width := 30
	if f, ok := p.w.(*os.File); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 70 {
			width = min(40, cols-50)
		}
	}
	for _, id := range p.order {
		st := p.layers[id]
		b.WriteString("\x1b[2K")
		fmt.Fprintf(&b, "%s  %-11s %s %s\n", shortDigest(id), st.phase, bar(st, width), sizes(st))
	}
	p.drawn = len(p.order)
	io.WriteString(p.w, b.String())
}

func bar(st *layerState, width int) string {
	frac := 0.0
	switch {
	case st.phase == "done" || st.phase == "exists":
		frac = 1
	case st.total > 0:
		frac = min(1, float64(st.current)/float64(st.total))
	}
	n := int(frac * float64(width))
	return "[" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + "]"
}

func sizes(st *layerState) string {
	switch {
	case st.err != "":
		return st.err
	case st.total > 0 && st.phase == "downloading":
		return humanBytes(st.current) + "/" + humanBytes(st.total)
	case st.total > 0:
		return humanBytes(st.total)
	}
	return ""
}

// finish stops the redraws (drawing the final state once more).
func (p *pullPrinter) finish() {
	if p.stop != nil {
		close(p.stop)
		<-p.done
		p.stop = nil
	}
}

func shortDigest(d string) string {
	_, h, ok := strings.Cut(d, ":")
	if !ok {
		h = d
	}
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}

// humanBytes prints a size as docker does: decimal units, three significant digits.
func humanBytes(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	f := float64(n)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%dB", n)
	}
	return fmt.Sprintf("%.3g%s", f, units[i])
}
