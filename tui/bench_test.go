package tui

import (
	"context"
	"math"
	"testing"

	"github.com/glassbox/glassbox/tui/chart"
)

// BenchmarkView500 draws the whole screen (list, header, Overview) with 500 containers, each
// with CPU and memory history, at 200x60.
func BenchmarkView500(b *testing.B) {
	f := newFake(500)
	m := New(context.Background(), f, Options{})
	m.Update(sizeMsg(200, 60))
	cs, _ := f.List(context.Background(), true)
	m.Update(containersMsg{list: cs})
	h, _ := f.Host(context.Background())
	m.Update(hostMsg{info: h})
	for i, c := range cs {
		u := &usage{cpu: chart.NewSeries(60), mem: chart.NewSeries(60)}
		for s := 0; s < 60; s++ {
			u.cpu.Push(math.Abs(math.Sin(float64(i+s) / 7)))
			u.mem.Push(float64((i*s)%100) * 1e6)
		}
		m.list.usage[c.ID] = u
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.clean = false // draw every time, as after a message that changed something
		_ = m.View()
	}
}

// BenchmarkView20 draws the screen of the idle benchmark (tui-idle): 20 containers at 120x40.
func BenchmarkView20(b *testing.B) {
	f := newFake(20)
	m := New(context.Background(), f, Options{})
	m.Update(sizeMsg(120, 40))
	cs, _ := f.List(context.Background(), true)
	m.Update(containersMsg{list: cs})
	h, _ := f.Host(context.Background())
	m.Update(hostMsg{info: h})
	for i, c := range cs {
		u := &usage{cpu: chart.NewSeries(60), mem: chart.NewSeries(60)}
		for s := 0; s < 60; s++ {
			u.cpu.Push(math.Abs(math.Sin(float64(i+s) / 7)))
			u.mem.Push(float64((i*s)%100) * 1e6)
		}
		m.list.usage[c.ID] = u
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.clean = false
		_ = m.View()
	}
}
