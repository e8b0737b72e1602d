package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/glassbox/glassbox/tui"
)

// cgroupfsStats reads a container's counters from its cgroup directories, v1 (one directory
// per controller), v2 (the "unified" or "" hierarchy) or hybrid (v1 controllers plus a v2
// tree that still has cpu.stat and pressure files). It stands in for package inspect's poller
// until that lands; the workbench only sees tui.StatsReader.
type cgroupfsStats struct{}

func (cgroupfsStats) ReadStats(ctx context.Context, paths map[string]string) (tui.Sample, error) {
	s := tui.Sample{Time: time.Now(), Files: map[string]string{}}
	v1 := func(controller string) string {
		for k, p := range paths {
			for _, c := range strings.Split(k, ",") {
				if c == controller {
					return p
				}
			}
		}
		return ""
	}
	v2 := paths["unified"]
	if v2 == "" {
		v2 = paths[""]
	}
	read := 0

	// CPU: cpuacct.usage (ns) on v1, cpu.stat usage_usec on v2.
	if d := v1("cpuacct"); d != "" {
		if n, f, ok := readUint(d, "cpuacct.usage"); ok {
			s.CPUUsageNanos, s.Files["cpu"] = n, f
			read++
		}
	}
	if s.Files["cpu"] == "" && v2 != "" {
		if kv, f, ok := readKV(v2, "cpu.stat"); ok {
			s.CPUUsageNanos, s.Files["cpu"] = kv["usage_usec"]*1000, f+" usage_usec"
			read++
		}
	}
	// Throttling: cpu.stat in the cpu controller's directory (v1 ns, v2 µs).
	if d := v1("cpu"); d != "" {
		if kv, f, ok := readKV(d, "cpu.stat"); ok {
			s.ThrottledPeriods, s.ThrottledNanos, s.Files["throttled"] = kv["nr_throttled"], kv["throttled_time"], f
		}
	} else if v2 != "" {
		if kv, f, ok := readKV(v2, "cpu.stat"); ok {
			s.ThrottledPeriods, s.ThrottledNanos, s.Files["throttled"] = kv["nr_throttled"], kv["throttled_usec"]*1000, f
		}
	}

	// Memory: usage, limit, anon and file cache, OOM kills.
	if d := v1("memory"); d != "" {
		if n, f, ok := readUint(d, "memory.usage_in_bytes"); ok {
			s.MemoryBytes, s.Files["memory"] = int64(n), f
			read++
		}
		if n, f, ok := readUint(d, "memory.limit_in_bytes"); ok && n < 1<<62 {
			s.MemoryLimitBytes, s.Files["limit"] = int64(n), f
		}
		if kv, f, ok := readKV(d, "memory.stat"); ok {
			s.MemoryAnonBytes, s.MemoryCacheBytes = int64(kv["total_rss"]), int64(kv["total_cache"])
			s.Files["anon"], s.Files["cache"] = f+" total_rss", f+" total_cache"
		}
		if kv, f, ok := readKV(d, "memory.oom_control"); ok {
			s.OOMKills, s.Files["oom"] = int64(kv["oom_kill"]), f+" oom_kill"
		}
	} else if v2 != "" {
		if n, f, ok := readUint(v2, "memory.current"); ok {
			s.MemoryBytes, s.Files["memory"] = int64(n), f
			read++
		}
		if n, f, ok := readUint(v2, "memory.max"); ok {
			s.MemoryLimitBytes, s.Files["limit"] = int64(n), f
		}
		if kv, f, ok := readKV(v2, "memory.stat"); ok {
			s.MemoryAnonBytes, s.MemoryCacheBytes = int64(kv["anon"]), int64(kv["file"])
			s.Files["anon"], s.Files["cache"] = f+" anon", f+" file"
		}
		if kv, f, ok := readKV(v2, "memory.events"); ok {
			s.OOMKills, s.Files["oom"] = int64(kv["oom_kill"]), f+" oom_kill"
		}
	}

	// Pids.
	pidsDir := v1("pids")
	if pidsDir == "" {
		pidsDir = v2
	}
	if pidsDir != "" {
		if n, f, ok := readUint(pidsDir, "pids.current"); ok {
			s.Pids, s.Files["pids"] = int64(n), f
		}
		if n, _, ok := readUint(pidsDir, "pids.max"); ok {
			s.PidsLimit = int64(n)
		}
	}

	// IO: blkio's byte counters on v1, io.stat on v2.
	if d := v1("blkio"); d != "" {
		for _, name := range []string{"blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_service_bytes"} {
			if r, w, f, ok := readBlkio(d, name); ok {
				s.IOReadBytes, s.IOWriteBytes, s.Files["io"] = r, w, f
				break
			}
		}
	} else if v2 != "" {
		if body, err := os.ReadFile(filepath.Join(v2, "io.stat")); err == nil {
			for _, line := range strings.Split(string(body), "\n") {
				for _, field := range strings.Fields(line) {
					k, v, _ := strings.Cut(field, "=")
					n, _ := strconv.ParseUint(v, 10, 64)
					switch k {
					case "rbytes":
						s.IOReadBytes += n
					case "wbytes":
						s.IOWriteBytes += n
					}
				}
			}
			s.Files["io"] = filepath.Join(v2, "io.stat")
		}
	}

	// Pressure (PSI), where the kernel has it: the v2 tree, also on a hybrid machine.
	if v2 != "" {
		for _, res := range []struct {
			file string
			dst  *float64
		}{{"cpu.pressure", &s.CPUPressureAvg10}, {"memory.pressure", &s.MemPressureAvg10}, {"io.pressure", &s.IOPressureAvg10}} {
			if v, ok := readPressure(filepath.Join(v2, res.file)); ok {
				*res.dst, s.HasPressure = v, true
				s.Files["pressure"] = filepath.Join(v2, "*.pressure")
			}
		}
	}
	if read == 0 {
		return s, fmt.Errorf("read cgroup statistics: no cpu or memory files under %v", paths)
	}
	return s, nil
}

func readUint(dir, name string) (uint64, string, bool) {
	f := filepath.Join(dir, name)
	b, err := os.ReadFile(f)
	if err != nil {
		return 0, f, false
	}
	v := strings.TrimSpace(string(b))
	if v == "max" {
		return 0, f, true
	}
	n, err := strconv.ParseUint(v, 10, 64)
	return n, f, err == nil
}

// readKV reads a flat keyed file ("key value" lines: memory.stat, cpu.stat, memory.events).
func readKV(dir, name string) (map[string]uint64, string, bool) {
	f := filepath.Join(dir, name)
	b, err := os.ReadFile(f)
	if err != nil {
		return nil, f, false
	}
	kv := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
			kv[k] = n
		}
	}
	return kv, f, true
}

// readBlkio sums the Read and Write lines of a blkio byte counter ("8:0 Read 4096").
func readBlkio(dir, name string) (r, w uint64, f string, ok bool) {
	f = filepath.Join(dir, name)
	b, err := os.ReadFile(f)
	if err != nil {
		return 0, 0, f, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) != 3 {
			continue
		}
		n, _ := strconv.ParseUint(fields[2], 10, 64)
		switch fields[1] {
		case "Read":
			r += n
		case "Write":
			w += n
		}
	}
	return r, w, f, true
}

// readPressure is the "some avg10=" figure of a PSI file.
func readPressure(f string) (float64, bool) {
	b, err := os.ReadFile(f)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "some ") {
			continue
		}
		for _, field := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(field, "avg10="); ok {
				n, err := strconv.ParseFloat(v, 64)
				return n, err == nil
			}
		}
	}
	return 0, false
}
