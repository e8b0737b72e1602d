package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/glassbox/glassbox/engine"
	"github.com/glassbox/glassbox/inspect"
)

func init() { addCommand("stats", newStatsCmd) }

// statsTarget is one thing `glassbox stats` watches: a container, or a process's cgroups.
type statsTarget struct {
	id, name string
	pid      int
}

func newStatsCmd(g *globals) *cobra.Command {
	var noStream bool
	var pids []int
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display a live stream of containers' resource usage (docker stats, plus throttling and pressure)",
		Long: `Display containers' resource usage, read from their cgroups every --interval: docker stats'
columns (CPU %, memory usage / limit, memory %, network I/O, block I/O, PIDs), then CPU
throttling (throttled periods / periods, throttled time) and pressure stall information (the
10-second "some" averages of cpu, memory and io) where the kernel has it.

MEM USAGE is what docker shows: usage less inactive page cache. CPU % is per core (200% = two
full cores). Without CONTAINER: every running container. --pid watches any process's cgroups
(another runtime's container included). --no-stream prints one reading, taken over 0.5 s.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			targets, paths, err := statsTargets(cmd.Context(), g, args, pids)
			if err != nil {
				return err
			}
			p := inspect.NewPoller(interval)
			defer p.Close()
			for i, t := range targets {
				if err := p.Add(t.id, paths[i]); err != nil {
					return fmt.Errorf("stats %s: %w", t.name, err)
				}
			}
			out := cmd.OutOrStdout()
			if noStream {
				p.Poll() // CPU % needs two readings
				select {
				case <-cmd.Context().Done():
					return nil
				case <-time.After(500 * time.Millisecond):
				}
				return printStats(g, out, targets, p.Poll(), false)
			}
			clear := false
			if f, ok := out.(*os.File); ok && g.format != "json" {
				clear = term.IsTerminal(int(f.Fd()))
			}
			err = p.Run(cmd.Context(), func(batch []inspect.Stats) {
				printStats(g, out, targets, batch, clear)
			})
			if err == context.Canceled {
				return nil
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&noStream, "no-stream", false, "print one reading and exit")
	cmd.Flags().IntSliceVar(&pids, "pid", nil, "watch the cgroups of this process (repeatable)")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "time between readings")
	return cmd
}

// statsTargets resolves the arguments: containers from the engine (all running ones when
// there are no arguments and no --pid), processes from /proc.
func statsTargets(ctx context.Context, g *globals, args []string, pids []int) ([]statsTarget, []map[string]string, error) {
	var targets []statsTarget
	var paths []map[string]string
	if len(args) > 0 || len(pids) == 0 {
		e, err := engine.Open(engine.Options{Root: g.root, Log: g.log})
		if err != nil {
			return nil, nil, err
		}
		refs := args
		if len(refs) == 0 {
			cs, err := e.List(ctx, false)
			if err != nil {
				return nil, nil, err
			}
			for _, c := range cs {
				refs = append(refs, c.ID)
			}
		}
		for _, ref := range refs {
			d, err := e.Inspect(ctx, ref)
			if err != nil {
				return nil, nil, fmt.Errorf("stats %s: %w", ref, err)
			}
			if !d.State.Running || len(d.CgroupPaths) == 0 {
				return nil, nil, fmt.Errorf("stats %s: container is not running", ref)
			}
			targets = append(targets, statsTarget{id: d.ID, name: strings.TrimPrefix(d.Name, "/"), pid: d.State.Pid})
			paths = append(paths, d.CgroupPaths)
		}
	}
	for _, pid := range pids {
		ps, err := inspect.Host{}.CgroupPaths(pid)
		if err != nil {
			return nil, nil, fmt.Errorf("stats --pid %d: %w", pid, err)
		}
		targets = append(targets, statsTarget{id: "pid " + strconv.Itoa(pid), name: "pid " + strconv.Itoa(pid), pid: pid})
		paths = append(paths, ps)
	}
	return targets, paths, nil
}

// statsJSON is one reading as --format json prints it: docker's fields plus ours.
type statsJSON struct {
	ID               string                `json:"ID"`
	Name             string                `json:"Name"`
	PID              int                   `json:"PID"`
	Gone             bool                  `json:"Gone,omitempty"`
	CPUPercent       float64               `json:"CPUPerc"`
	MemUsage         uint64                `json:"MemUsage"`
	MemLimit         uint64                `json:"MemLimit"`
	MemPercent       float64               `json:"MemPerc"`
	NetRx            uint64                `json:"NetRx"`
	NetTx            uint64                `json:"NetTx"`
	BlockRead        uint64                `json:"BlockRead"`
	BlockWrite       uint64                `json:"BlockWrite"`
	Pids             uint64                `json:"PIDs"`
	PidsLimit        uint64                `json:"PIDsLimit"`
	ThrottledPeriods uint64                `json:"ThrottledPeriods"`
	Periods          uint64                `json:"Periods"`
	ThrottledNanos   uint64                `json:"ThrottledNanos"`
	Memory           inspect.MemoryStats   `json:"Memory"`
	CPU              inspect.CPUStats      `json:"CPU"`
	Pressure         inspect.PressureStats `json:"Pressure"`
	IO               []inspect.IODevice    `json:"IO"`
}

func printStats(g *globals, w io.Writer, targets []statsTarget, batch []inspect.Stats, clear bool) error {
	byID := map[string]statsTarget{}
	for _, t := range targets {
		byID[t.id] = t
	}
	hostMem := memTotal()
	var rows []statsJSON
	for _, s := range batch {
		t := byID[s.ID]
		r := statsJSON{ID: t.id, Name: t.name, PID: t.pid, Gone: s.Gone, CPUPercent: s.CPU.Percent,
			MemUsage: s.Memory.WorkingSetBytes(), MemLimit: s.Memory.LimitBytes,
			BlockRead: s.IO.ReadBytes, BlockWrite: s.IO.WriteBytes, Pids: s.Pids.Current, PidsLimit: s.Pids.Max,
			ThrottledPeriods: s.CPU.ThrottledPeriods, Periods: s.CPU.Periods, ThrottledNanos: s.CPU.ThrottledNanos,
			Memory: s.Memory, CPU: s.CPU, Pressure: s.Pressure, IO: append([]inspect.IODevice{}, s.IO.List()...)}
		if r.MemLimit == inspect.Unlimited && hostMem > 0 {
			r.MemLimit = hostMem // docker shows the host's memory as the limit of an unlimited container
		}
		if r.MemLimit > 0 {
			r.MemPercent = float64(r.MemUsage) / float64(r.MemLimit) * 100
		}
		r.NetRx, r.NetTx = netIO(t.pid)
		rows = append(rows, r)
	}
	if g.format == "json" {
		for _, r := range rows { // one JSON line per container per reading, as docker does
			line, err := jsonLine(r)
			if err != nil {
				return err
			}
			fmt.Fprintln(w, line)
		}
		return nil
	}
	var buf bytes.Buffer
	if clear {
		buf.WriteString("\033[2J\033[H")
	}
	l := listing{header: []string{"CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O",
		"BLOCK I/O", "PIDS", "THROTTLED", "PSI cpu/mem/io"}}
	for i, r := range rows {
		s := batch[i]
		id := r.ID
		if len(id) > 12 && !strings.HasPrefix(id, "pid ") {
			id = id[:12]
		}
		cpu := "--"
		if s.CPU.PercentValid {
			cpu = fmt.Sprintf("%.2f%%", r.CPUPercent)
		}
		if s.Gone {
			cpu = "gone"
		}
		throttled := "-"
		if s.Has.Throttling && s.CPU.Periods > 0 {
			throttled = fmt.Sprintf("%d/%d %s", s.CPU.ThrottledPeriods, s.CPU.Periods, time.Duration(s.CPU.ThrottledNanos).Round(time.Millisecond))
		}
		psi := "-"
		if s.Has.Pressure {
			psi = fmt.Sprintf("%.2f/%.2f/%.2f", s.Pressure.CPU.Some.Avg10, s.Pressure.Memory.Some.Avg10, s.Pressure.IO.Some.Avg10)
		}
		pids := fmt.Sprint(r.Pids)
		l.rows = append(l.rows, []string{id, r.Name, cpu,
			binarySize(r.MemUsage) + " / " + binarySize(r.MemLimit), fmt.Sprintf("%.2f%%", r.MemPercent),
			decimalSize(r.NetRx) + " / " + decimalSize(r.NetTx),
			decimalSize(r.BlockRead) + " / " + decimalSize(r.BlockWrite), pids, throttled, psi})
	}
	if err := g.printListing(&buf, l); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func jsonLine(v any) (string, error) {
	var b bytes.Buffer
	err := writeJSONCompact(&b, v)
	return strings.TrimSpace(b.String()), err
}

// netIO sums a process's network namespace's interfaces, loopback excepted
// (/proc/PID/net/dev: the namespace of PID, as docker counts a container's network I/O).
func netIO(pid int) (rx, tx uint64) {
	if pid <= 0 {
		return 0, 0
	}
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/net/dev")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(name) == "lo" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) >= 9 {
			r, _ := strconv.ParseUint(f[0], 10, 64)
			t, _ := strconv.ParseUint(f[8], 10, 64)
			rx, tx = rx+r, tx+t
		}
	}
	return rx, tx
}

func memTotal() uint64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// binarySize and decimalSize print as docker stats does: memory in KiB/MiB/GiB, I/O in kB/MB/GB.
func binarySize(v uint64) string  { return unitSize(v, 1024, []string{"B", "KiB", "MiB", "GiB", "TiB"}) }
func decimalSize(v uint64) string { return unitSize(v, 1000, []string{"B", "kB", "MB", "GB", "TB"}) }

func unitSize(v uint64, base float64, units []string) string {
	if v == inspect.Unlimited {
		return "unlimited"
	}
	f := float64(v)
	i := 0
	for f >= base && i < len(units)-1 {
		f /= base
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d%s", v, units[0])
	}
	return fmt.Sprintf("%.4g%s", f, units[i])
}

func writeJSONCompact(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }
