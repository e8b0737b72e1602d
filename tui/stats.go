package tui

import (
	"context"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/glassbox/glassbox/tui/chart"
)

// StatsReader reads one container's cgroup counters from the directories the engine reports
// (ContainerDetail.CgroupPaths). The binary passes a reader of cgroupfs; tests a fake.
type StatsReader interface {
	ReadStats(ctx context.Context, cgroupPaths map[string]string) (Sample, error)
}

// Sample is one reading of a container's cgroups. Counters are cumulative; the workbench turns
// them into rates. Files names, per figure ("cpu", "memory", "cache", "anon", "limit", "pids",
// "io", "throttled", "oom", "pressure"), the cgroup file the figure came from, so every number
// on screen can say where it was read.
type Sample struct {
	Time time.Time

	CPUUsageNanos    uint64
	ThrottledPeriods uint64
	ThrottledNanos   uint64
	MemoryBytes      int64
	MemoryLimitBytes int64 // 0: unlimited
	MemoryCacheBytes int64
	MemoryAnonBytes  int64
	OOMKills         int64
	Pids, PidsLimit  int64 // PidsLimit 0: unlimited
	IOReadBytes      uint64
	IOWriteBytes     uint64
	HasPressure      bool
	CPUPressureAvg10 float64
	MemPressureAvg10 float64
	IOPressureAvg10  float64
	Files            map[string]string
}

// seriesLen is how many samples each graph keeps.
const seriesLen = 120

// history is what the workbench remembers of one container's samples.
type history struct {
	last                                       Sample
	cpu, mem, pids, ioRead, ioWrite, throttled *chart.Series
}

func newHistory() *history {
	return &history{cpu: chart.NewSeries(seriesLen), mem: chart.NewSeries(seriesLen), pids: chart.NewSeries(seriesLen),
		ioRead: chart.NewSeries(seriesLen), ioWrite: chart.NewSeries(seriesLen), throttled: chart.NewSeries(seriesLen)}
}

// add records s, turning counters into rates against the previous sample.
func (h *history) add(s Sample) {
	if !h.last.Time.IsZero() {
		dt := s.Time.Sub(h.last.Time).Seconds()
		if dt > 0 {
			h.cpu.Push(float64(s.CPUUsageNanos-min(s.CPUUsageNanos, h.last.CPUUsageNanos)) / 1e9 / dt)
			h.ioRead.Push(float64(s.IOReadBytes-min(s.IOReadBytes, h.last.IOReadBytes)) / dt)
			h.ioWrite.Push(float64(s.IOWriteBytes-min(s.IOWriteBytes, h.last.IOWriteBytes)) / dt)
			h.throttled.Push(float64(s.ThrottledNanos-min(s.ThrottledNanos, h.last.ThrottledNanos)) / 1e9 / dt)
		}
	}
	h.mem.Push(float64(s.MemoryBytes))
	h.pids.Push(float64(s.Pids))
	h.last = s
}

type (
	statsTickMsg time.Time
	// cgroupPathsMsg carries the cgroup directories of containers seen for the first time.
	cgroupPathsMsg struct{ paths map[string]map[string]string }
	statsMsg       struct {
		samples map[string]Sample
		errs    map[string]error
	}
)

func (m *Model) statsTick() tea.Cmd {
	if m.opts.Stats == nil {
		return nil
	}
	return tea.Tick(m.opts.StatsInterval, func(t time.Time) tea.Msg { return statsTickMsg(t) })
}

// sampleStats reads every running container whose cgroups are known, in one command; the
// containers whose paths are not known yet are inspected first.
func (m *Model) sampleStats() tea.Cmd {
	var unknown []string
	targets := map[string]map[string]string{}
	for _, c := range m.list.containers {
		if c.State != "running" {
			continue
		}
		if p, ok := m.cgroupPaths[c.ID]; ok {
			targets[c.ID] = p
		} else {
			unknown = append(unknown, c.ID)
		}
	}
	b, ctx, r := m.b, m.ctx, m.opts.Stats
	var cmds []tea.Cmd
	if len(unknown) > 0 {
		cmds = append(cmds, func() tea.Msg {
			paths := map[string]map[string]string{}
			for _, id := range unknown {
				if d, err := b.Inspect(ctx, id); err == nil {
					paths[id] = d.CgroupPaths
				}
			}
			return cgroupPathsMsg{paths}
		})
	}
	if len(targets) > 0 {
		cmds = append(cmds, func() tea.Msg {
			out := statsMsg{samples: map[string]Sample{}, errs: map[string]error{}}
			for id, p := range targets {
				s, err := r.ReadStats(ctx, p)
				if err != nil {
					out.errs[id] = err
					continue
				}
				out.samples[id] = s
			}
			return out
		})
	}
	return tea.Batch(cmds...)
}

// addStats files samples into each container's history and the list's sparklines.
func (m *Model) addStats(msg statsMsg) {
	for id, s := range msg.samples {
		h := m.histories[id]
		if h == nil {
			h = newHistory()
			m.histories[id] = h
		}
		h.add(s)
		m.list.usage[id] = &usage{cpu: h.cpu, mem: h.mem}
	}
	for id, err := range msg.errs {
		m.statsErrs[id] = err
	}
	live := map[string]bool{}
	for _, c := range m.list.containers {
		live[c.ID] = true
	}
	for id := range m.histories {
		if !live[id] {
			delete(m.histories, id)
			delete(m.cgroupPaths, id)
			delete(m.statsErrs, id)
		}
	}
}
