package tui

import (
	"errors"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/glassbox/glassbox/inspect"
	"github.com/glassbox/glassbox/tui/chart"
)

// StatsPoller is where the cgroup figures come from: package inspect's Poller in the binary
// (files opened once, read with pread, parsed without allocating), a fake in tests. The root
// model owns it: it adds the running containers, drops the gone ones, and polls it on its own
// stats tick, in a command.
type StatsPoller interface {
	Add(id string, paths map[string]string) error
	Remove(id string)
	Poll() []inspect.Stats
	// SetBrief reads id for CPU and memory usage only (the list's sparklines), or fully again.
	SetBrief(id string, brief bool)
}

// seriesLen is how many samples each graph keeps.
const seriesLen = 120

// history is what the workbench remembers of one container's samples.
type history struct {
	// last is the newest sample, full the newest full one (every sample but the list's brief
	// ones: the Cgroups pane shows its figures).
	last, full                                 inspect.Stats
	cpu, mem, pids, ioRead, ioWrite, throttled *chart.Series
	// files are the cgroup files the poller reads for this container, by figure.
	files map[string]string
}

func newHistory() *history {
	return &history{cpu: chart.NewSeries(seriesLen), mem: chart.NewSeries(seriesLen), pids: chart.NewSeries(seriesLen),
		ioRead: chart.NewSeries(seriesLen), ioWrite: chart.NewSeries(seriesLen), throttled: chart.NewSeries(seriesLen)}
}

// add records s, turning counters into rates against the previous sample. A brief sample
// (CPU and memory usage only) adds to those two graphs; the others record only full samples
// that follow full ones, so a container watched briefly shows no invented zeros.
func (h *history) add(s inspect.Stats, brief bool) {
	prev := h.last
	full := !brief && !prev.Time.IsZero() && prev == h.full
	if !prev.Time.IsZero() {
		dt := s.Time.Sub(prev.Time).Seconds()
		if dt > 0 {
			h.cpu.Push(float64(s.CPU.UsageNanos-min(s.CPU.UsageNanos, prev.CPU.UsageNanos)) / 1e9 / dt)
			if full {
				h.ioRead.Push(float64(s.IO.ReadBytes-min(s.IO.ReadBytes, prev.IO.ReadBytes)) / dt)
				h.ioWrite.Push(float64(s.IO.WriteBytes-min(s.IO.WriteBytes, prev.IO.WriteBytes)) / dt)
				h.throttled.Push(float64(s.CPU.ThrottledNanos-min(s.CPU.ThrottledNanos, prev.CPU.ThrottledNanos)) / 1e9 / dt)
			}
		}
	}
	h.mem.Push(float64(s.Memory.UsageBytes))
	if !brief {
		h.pids.Push(float64(s.Pids.Current))
		h.full = s
	}
	h.last = s
}

type (
	statsTickMsg time.Time
	// polledMsg says which containers the poller now reads (and the files, by figure, of
	// each new one), and which could not be added.
	polledMsg struct {
		added map[string]map[string]string
		errs  map[string]error
	}
	statsMsg struct {
		samples []inspect.Stats
		tick    bool // from the stats tick, which it re-arms
	}
)

// statsTick polls the cgroups every StatsInterval in the timer's goroutine: one wake-up and
// one message (one redraw) a second when idle.
func (m *Model) statsTick() tea.Cmd {
	if m.opts.Stats == nil {
		return nil
	}
	poller := m.opts.Stats
	return tea.Tick(m.opts.StatsInterval, func(time.Time) tea.Msg {
		return statsMsg{samples: copyStats(poller.Poll()), tick: true}
	})
}

// pollStats polls now (a test's statsTickMsg).
func (m *Model) pollStats() tea.Cmd {
	if m.opts.Stats == nil {
		return nil
	}
	poller := m.opts.Stats
	return func() tea.Msg { return statsMsg{samples: copyStats(poller.Poll())} }
}

// copyStats copies a poller's batch, which its next poll reuses.
func copyStats(batch []inspect.Stats) []inspect.Stats {
	if len(batch) == 0 {
		return nil
	}
	return append([]inspect.Stats(nil), batch...)
}

// trackContainers gives the poller the containers that started running (inspected for their
// cgroup paths in a command) and takes away those that stopped.
func (m *Model) trackContainers() tea.Cmd {
	if m.opts.Stats == nil {
		return nil
	}
	var unknown []string
	for _, c := range m.list.containers {
		if c.State != "running" {
			continue
		}
		if _, ok := m.polled[c.ID]; !ok {
			unknown = append(unknown, c.ID)
			m.polled[c.ID] = false // asked once; a failed add is not retried every tick
		}
	}
	for id := range m.polled {
		if isHostWatch(id) {
			continue // the host view's selection (watchHost)
		}
		if c, ok := m.list.byID(id); !ok || c.State != "running" {
			m.opts.Stats.Remove(id)
			delete(m.polled, id)
		}
	}
	b, ctx, poller := m.b, m.ctx, m.opts.Stats
	var cmds []tea.Cmd
	if len(unknown) > 0 {
		cmds = append(cmds, func() tea.Msg {
			out := polledMsg{added: map[string]map[string]string{}, errs: map[string]error{}}
			for _, id := range unknown {
				d, err := b.Inspect(ctx, id)
				if err == nil {
					err = poller.Add(id, d.CgroupPaths)
				}
				if err != nil {
					out.errs[id] = err
					continue
				}
				out.added[id] = figureFiles(d.CgroupPaths)
			}
			return out
		})
	}
	return tea.Batch(cmds...)
}

// figureFiles names the file behind each figure, as the poller opens them (inspect.OpenStats).
func figureFiles(paths map[string]string) map[string]string {
	r, err := inspect.OpenStats("files", paths)
	if err != nil {
		return nil
	}
	defer r.Close()
	out := map[string]string{}
	for _, f := range r.Files() {
		for figure, names := range figureSources {
			for _, n := range names {
				if baseName(f) == n && out[figure] == "" {
					out[figure] = f
				}
			}
		}
	}
	return out
}

// figureSources are the files each figure may come from, v1 first.
var figureSources = map[string][]string{
	"cpu":       {"cpuacct.usage", "cpu.stat"},
	"memory":    {"memory.usage_in_bytes", "memory.current"},
	"limit":     {"memory.limit_in_bytes", "memory.max"},
	"breakdown": {"memory.stat"},
	"pids":      {"pids.current"},
	"io":        {"blkio.throttle.io_service_bytes_recursive", "io.stat"},
	"throttled": {"cpu.stat"},
	"oom":       {"memory.oom_control", "memory.events"},
	"pressure":  {"cpu.pressure", "memory.pressure", "io.pressure"},
}

// errCgroupGone is what the host view's Cgroups tab says once the process's cgroup has gone.
var errCgroupGone = errors.New("its cgroup is gone: the process ended or moved to another cgroup (ctrl+r reads it again)")

// addStats files samples into each container's history and the list's sparklines, and says
// whether a container's cgroup has gone (it stopped, maybe without an event).
func (m *Model) addStats(msg statsMsg) (gone bool) {
	for _, s := range msg.samples {
		if s.Gone {
			if isHostWatch(s.ID) {
				// A process of the host view: the poller has dropped it; say so, not the
				// last figures as if they were live, and read it again if asked (ctrl+r).
				m.statsErrs[s.ID] = errCgroupGone
				delete(m.polled, s.ID)
				if s.ID == m.hostWatch {
					m.hostWatch = ""
				}
				continue
			}
			gone = true
			continue
		}
		h := m.histories[s.ID]
		if h == nil {
			h = newHistory()
			m.histories[s.ID] = h
		}
		h.add(s, m.brief[s.ID])
		m.list.usage[s.ID] = &usage{cpu: h.cpu, mem: h.mem}
	}
	live := map[string]bool{}
	for _, c := range m.list.containers {
		live[c.ID] = true
	}
	for id := range m.histories {
		// The host view's selection comes and goes with watchHost and unwatchHost.
		if !live[id] && !isHostWatch(id) {
			delete(m.histories, id)
			delete(m.statsErrs, id)
		}
	}
	return gone
}

// addPolled records the containers the poller took on.
func (m *Model) addPolled(msg polledMsg) {
	for id, files := range msg.added {
		if isHostWatch(id) && id != m.hostWatch {
			// The selection moved on while its cgroups were being opened.
			m.opts.Stats.Remove(id)
			continue
		}
		m.polled[id] = true
		m.setBrief(id, id != m.fullStats)
		h := m.histories[id]
		if h == nil {
			h = newHistory()
			m.histories[id] = h
		}
		h.files = files
	}
	for id, err := range msg.errs {
		m.statsErrs[id] = err
	}
}

// setBrief tells the poller how much of id to read, and remembers it.
func (m *Model) setBrief(id string, brief bool) {
	if m.brief[id] == brief {
		return
	}
	m.opts.Stats.SetBrief(id, brief)
	if brief {
		m.brief[id] = true
	} else {
		delete(m.brief, id)
	}
}

// watchFully reads the selected container's cgroups fully (its Cgroups pane) and the others
// briefly (the list's CPU and memory sparklines): with 20 containers, 59 files a tick instead
// of 380. A newly selected container is read at once.
func (m *Model) watchFully(id string) tea.Cmd {
	if m.opts.Stats == nil || id == m.fullStats {
		return nil
	}
	old := m.fullStats
	m.fullStats = id
	if m.polled[old] {
		m.setBrief(old, true)
	}
	if !m.polled[id] {
		return nil // addPolled reads it fully when it comes
	}
	m.setBrief(id, false)
	return m.pollStats()
}
