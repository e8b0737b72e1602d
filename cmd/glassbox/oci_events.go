package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/spf13/cobra"

	"github.com/glassbox/glassbox/engine/runtime"
	"github.com/glassbox/glassbox/inspect"
)

// `glassbox oci events` prints runc's events: JSON lines {"type": "stats"|"oom", "id", "data"},
// the stats in runc's layout (runc/types/events.go), read from the container's cgroup files.

type ociEvent struct {
	Type string    `json:"type"`
	ID   string    `json:"id"`
	Data *ociStats `json:"data,omitempty"`
}

type ociStats struct {
	CPU               ociCPU                `json:"cpu"`
	CPUSet            ociCPUSet             `json:"cpuset"`
	Memory            ociMemory             `json:"memory"`
	Pids              ociPids               `json:"pids"`
	Blkio             ociBlkio              `json:"blkio"`
	Hugetlb           map[string]ociHugetlb `json:"hugetlb"`
	IntelRdt          struct{}              `json:"intel_rdt"`
	NetworkInterfaces []struct{}            `json:"network_interfaces"` // runc fills it only for its own netns
}

type ociCPU struct {
	Usage struct {
		Total        uint64   `json:"total,omitempty"`
		Percpu       []uint64 `json:"percpu,omitempty"`
		PercpuKernel []uint64 `json:"percpu_kernel,omitempty"`
		PercpuUser   []uint64 `json:"percpu_user,omitempty"`
		Kernel       uint64   `json:"kernel"`
		User         uint64   `json:"user"`
	} `json:"usage"`
	Throttling struct {
		Periods          uint64 `json:"periods,omitempty"`
		ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
		ThrottledTime    uint64 `json:"throttledTime,omitempty"`
	} `json:"throttling"`
	PSI *ociPSI `json:"psi,omitempty"`
}

type ociPSI struct {
	Some ociPSIData `json:"some,omitempty"`
	Full ociPSIData `json:"full,omitempty"`
}

type ociPSIData struct {
	Avg10  float64 `json:"avg10"`
	Avg60  float64 `json:"avg60"`
	Avg300 float64 `json:"avg300"`
	Total  uint64  `json:"total"`
}

type ociCPUSet struct {
	CPUs                  []uint16 `json:"cpus,omitempty"`
	CPUExclusive          uint64   `json:"cpu_exclusive"`
	Mems                  []uint16 `json:"mems,omitempty"`
	MemHardwall           uint64   `json:"mem_hardwall"`
	MemExclusive          uint64   `json:"mem_exclusive"`
	MemoryMigrate         uint64   `json:"memory_migrate"`
	MemorySpreadPage      uint64   `json:"memory_spread_page"`
	MemorySpreadSlab      uint64   `json:"memory_spread_slab"`
	MemoryPressure        uint64   `json:"memory_pressure"`
	SchedLoadBalance      uint64   `json:"sched_load_balance"`
	SchedRelaxDomainLevel int64    `json:"sched_relax_domain_level"`
}

type ociMemoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

type ociMemory struct {
	Cache     uint64            `json:"cache,omitempty"`
	Usage     ociMemoryEntry    `json:"usage"`
	Swap      ociMemoryEntry    `json:"swap"`
	Kernel    ociMemoryEntry    `json:"kernel"`
	KernelTCP ociMemoryEntry    `json:"kernelTCP"`
	Raw       map[string]uint64 `json:"raw,omitempty"`
	PSI       *ociPSI           `json:"psi,omitempty"`
}

type ociPids struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

type ociBlkioEntry struct {
	Major uint64 `json:"major,omitempty"`
	Minor uint64 `json:"minor,omitempty"`
	Op    string `json:"op,omitempty"`
	Value uint64 `json:"value,omitempty"`
}

type ociBlkio struct {
	IoServiceBytesRecursive []ociBlkioEntry `json:"ioServiceBytesRecursive,omitempty"`
	IoServicedRecursive     []ociBlkioEntry `json:"ioServicedRecursive,omitempty"`
	PSI                     *ociPSI         `json:"psi,omitempty"`
}

type ociHugetlb struct {
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

func newOCIEventsCmd(o *ociGlobals) *cobra.Command {
	var interval time.Duration
	var once bool
	cmd := &cobra.Command{
		Use:   "events [--stats] [--interval D] CONTAINER",
		Short: "Print a container's cgroup statistics and OOM kills as JSON lines (runc's events)",
		Long: `Print the container's statistics, read from its cgroup files, as runc's JSON events: one
{"type": "stats", "id": ..., "data": {...}} line every --interval (default 5s), and an
{"type": "oom"} line each time the kernel's OOM killer acts in the container. It ends when the
container stops. With --stats it prints one stats line and exits.`,
		Args: ociArgs(1, 1),
		RunE: o.run(func(cmd *cobra.Command, args []string) error {
			if interval <= 0 {
				return errors.New("duration interval must be greater than 0")
			}
			r, err := o.open()
			if err != nil {
				return err
			}
			id := args[0]
			st, err := r.State(id)
			if err != nil {
				return runtimeError(id, err)
			}
			if st.Status == runtime.StatusStopped {
				return fmt.Errorf("container with id %s is not running", id)
			}
			c, err := r.Record(id)
			if err != nil {
				return runtimeError(id, err)
			}
			reader, err := inspect.OpenStats(id, c.CgroupPaths)
			if err != nil {
				return fmt.Errorf("open the statistics of %s: %w", id, err)
			}
			defer reader.Close()
			enc := json.NewEncoder(cmd.OutOrStdout())
			if once {
				var s inspect.Stats
				if err := reader.Read(&s); err != nil {
					return err
				}
				return enc.Encode(ociEvent{Type: "stats", ID: id, Data: ociStatsOf(&s, c.CgroupPaths)})
			}
			return streamEvents(ctxDone(cmd), r, id, c.CgroupPaths, reader, interval, enc)
		}),
	}
	cmd.Flags().DurationVar(&interval, "interval", 5*time.Second, "set the stats collection interval")
	cmd.Flags().BoolVar(&once, "stats", false, "display the container's stats then exit")
	return cmd
}

func ctxDone(cmd *cobra.Command) <-chan struct{} { return ctxOf(cmd).Done() }

// streamEvents prints stats every interval and an oom event for each OOM kill, until the
// container stops or its cgroup goes. It waits on the kernel rather than polling: the OOM
// watch (an eventfd on v1, inotify of memory.events on cgroup2) and a pidfd of the init.
func streamEvents(done <-chan struct{}, r *runtime.Runtime, id string, paths map[string]string,
	reader *inspect.StatsReader, interval time.Duration, enc *json.Encoder) error {
	w, err := r.Watch(id)
	if errors.Is(err, runtime.ErrStopped) {
		return nil
	}
	if err != nil {
		return err
	}
	defer w.Close()
	var s inspect.Stats
	if err := reader.Read(&s); err != nil {
		return err
	}
	ooms := oomCount(&s)
	// emitOOMs prints an oom event for each OOM kill counted since the last reading.
	emitOOMs := func() error {
		for n := oomCount(&s); ooms < n; ooms++ {
			if err := enc.Encode(ociEvent{Type: "oom", ID: id}); err != nil {
				return err
			}
		}
		return nil
	}
	var oomWake <-chan struct{}
	if w.OOM != nil {
		oomWake = w.OOM.C
	}
	statsTick := time.NewTicker(interval)
	defer statsTick.Stop()
	// v1 signals the eventfd when the OOM begins (mem_cgroup_oom_notify), before the killer
	// has counted its kill in oom_kill: a wake-up that finds no new kill reads again a little
	// later, a few times.
	var recheck <-chan time.Time
	rechecks := 0
	for {
		select {
		case <-done:
			return nil
		case <-w.Exited:
			// Kills counted just before the end are still reported.
			if reader.Read(&s) == nil {
				return emitOOMs()
			}
			return nil
		case <-statsTick.C:
			if err := reader.Read(&s); err != nil {
				return nil // the cgroup went with the container
			}
			if err := emitOOMs(); err != nil {
				return err
			}
			if err := enc.Encode(ociEvent{Type: "stats", ID: id, Data: ociStatsOf(&s, paths)}); err != nil {
				return err
			}
		case _, ok := <-oomWake:
			if !ok {
				oomWake = nil // the cgroup went; the init's end follows
				continue
			}
			rechecks = 0
			recheck = time.After(0)
		case <-recheck:
			recheck = nil
			if err := reader.Read(&s); err != nil {
				return nil
			}
			before := ooms
			if err := emitOOMs(); err != nil {
				return err
			}
			if ooms == before && rechecks < oomRechecks {
				rechecks++
				recheck = time.After(oomRecheckDelay)
			}
		}
	}
}

// How long a wake-up of the OOM watch that found no new kill keeps reading the counter.
const (
	oomRechecks     = 20
	oomRecheckDelay = 50 * time.Millisecond
)

// oomCount counts the OOM killer's acts in the cgroup: v2 memory.events "oom", v1
// memory.oom_control "oom_kill".
func oomCount(s *inspect.Stats) uint64 { return max(s.Memory.OOM, s.Memory.OOMKills) }

// ociStatsOf is one reading in runc's layout: what inspect parsed, plus the cgroup's detail
// that runc shows and Stats has no figure for (per-CPU usage, memory.stat whole, cpuset,
// hugetlb), which inspect reads too.
func ociStatsOf(s *inspect.Stats, paths map[string]string) *ociStats {
	d := inspect.ReadCgroupDetail(paths)
	out := &ociStats{Hugetlb: map[string]ociHugetlb{}}
	cpu := &out.CPU
	cpu.Usage.Total, cpu.Usage.Kernel, cpu.Usage.User = s.CPU.UsageNanos, s.CPU.SystemNanos, s.CPU.UserNanos
	cpu.Throttling.Periods, cpu.Throttling.ThrottledPeriods, cpu.Throttling.ThrottledTime = s.CPU.Periods, s.CPU.ThrottledPeriods, s.CPU.ThrottledNanos
	cpu.PSI = psiOf(s.Pressure.CPU)
	cpu.Usage.Percpu, cpu.Usage.PercpuKernel, cpu.Usage.PercpuUser = d.PercpuUsage, d.PercpuKernel, d.PercpuUser
	out.CPUSet = cpusetOf(d.CPUSet)
	out.Memory = memoryOf(s, d)
	out.Pids.Current = s.Pids.Current
	if s.Pids.Max != inspect.Unlimited {
		out.Pids.Limit = s.Pids.Max
	}
	for _, d := range s.IO.List() {
		maj, mnr := uint64(d.Major), uint64(d.Minor)
		for _, e := range []struct {
			op           string
			bytes, count uint64
		}{{"Read", d.ReadBytes, d.ReadOps}, {"Write", d.WriteBytes, d.WriteOps}, {"Total", d.ReadBytes + d.WriteBytes, d.ReadOps + d.WriteOps}} {
			out.Blkio.IoServiceBytesRecursive = append(out.Blkio.IoServiceBytesRecursive, ociBlkioEntry{maj, mnr, e.op, e.bytes})
			out.Blkio.IoServicedRecursive = append(out.Blkio.IoServicedRecursive, ociBlkioEntry{maj, mnr, e.op, e.count})
		}
	}
	out.Blkio.PSI = psiOf(s.Pressure.IO)
	for size, h := range d.Hugetlb {
		out.Hugetlb[size] = ociHugetlb{Usage: h.Usage, Max: h.MaxUsage, Failcnt: h.Failcnt}
	}
	return out
}

func memoryOf(s *inspect.Stats, d inspect.CgroupDetail) ociMemory {
	var m ociMemory
	m.PSI = psiOf(s.Pressure.Memory)
	m.Raw = d.MemoryStat
	if d.MemoryCounters != nil {
		// v1: each counter's four files, raw (runc prints the kernel's PAGE_COUNTER_MAX as is).
		entry := func(prefix string) ociMemoryEntry {
			c := d.MemoryCounters[prefix]
			return ociMemoryEntry{Limit: c.Limit, Usage: c.Usage, Max: c.MaxUsage, Failcnt: c.Failcnt}
		}
		m.Usage, m.Swap = entry("memory"), entry("memory.memsw")
		m.Kernel, m.KernelTCP = entry("memory.kmem"), entry("memory.kmem.tcp")
		m.Cache = m.Raw["cache"]
		return m
	}
	if !d.MemoryV2 {
		return m
	}
	// v2, as runc reads it: swap is shown as memory+swap, like v1's memsw.
	m.Usage = ociMemoryEntry{Limit: d.MemoryMax, Usage: s.Memory.UsageBytes, Max: s.Memory.PeakBytes, Failcnt: d.MemoryEvents["max"]}
	swapLimit := d.SwapMax
	if swapLimit != math.MaxUint64 && m.Usage.Limit != math.MaxUint64 {
		swapLimit += m.Usage.Limit
	} else {
		swapLimit = math.MaxUint64
	}
	m.Swap = ociMemoryEntry{Limit: swapLimit, Usage: s.Memory.SwapBytes + s.Memory.UsageBytes}
	m.Cache = m.Raw["file"]
	return m
}

func cpusetOf(d inspect.CPUSetDetail) ociCPUSet {
	c := ociCPUSet{CPUs: d.CPUs, Mems: d.Mems, SchedRelaxDomainLevel: d.SchedRelaxDomainLevel}
	f := d.Flags
	c.CPUExclusive, c.MemHardwall, c.MemExclusive = f["cpu_exclusive"], f["mem_hardwall"], f["mem_exclusive"]
	c.MemoryMigrate, c.MemorySpreadPage, c.MemorySpreadSlab = f["memory_migrate"], f["memory_spread_page"], f["memory_spread_slab"]
	c.MemoryPressure, c.SchedLoadBalance = f["memory_pressure"], f["sched_load_balance"]
	return c
}

func psiOf(p inspect.PSI) *ociPSI {
	if !p.Present {
		return nil
	}
	data := func(l inspect.PSILine) ociPSIData {
		return ociPSIData{Avg10: l.Avg10, Avg60: l.Avg60, Avg300: l.Avg300, Total: l.TotalMicros}
	}
	return &ociPSI{Some: data(p.Some), Full: data(p.Full)}
}
