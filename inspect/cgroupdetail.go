package inspect

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// CgroupDetail is what a container's cgroup files say beyond Stats, read as the kernel gives
// it: the figures runc's `events --stats` prints and the poller has no use for (per-CPU usage,
// memory.stat whole, each v1 memory counter, the cpuset's settings, hugetlb usage). It is read
// once per call, with no reused buffers: a command's figure, not a pane's.
type CgroupDetail struct {
	// Per-CPU usage in nanoseconds (v1 cpuacct.usage_percpu{,_sys,_user}); nil on v2.
	PercpuUsage, PercpuKernel, PercpuUser []uint64

	// MemoryV2 says the memory figures come from cgroup2 (memory.max, memory.events).
	MemoryV2 bool
	// MemoryStat is memory.stat, every line.
	MemoryStat map[string]uint64
	// MemoryCounters are v1's page counters by file prefix: "memory", "memory.memsw",
	// "memory.kmem", "memory.kmem.tcp". Nil on v2.
	MemoryCounters map[string]MemoryCounter
	// MemoryMax and SwapMax are v2's memory.max and memory.swap.max ("max" is math.MaxUint64);
	// MemoryEvents is memory.events.
	MemoryMax, SwapMax uint64
	MemoryEvents       map[string]uint64

	CPUSet CPUSetDetail
	// Hugetlb is usage per page size ("2MB"), v1 only.
	Hugetlb map[string]HugetlbUsage
}

// MemoryCounter is one v1 page counter's four files (PREFIX.limit_in_bytes, ...), raw: an
// unlimited one reads as the kernel's PAGE_COUNTER_MAX.
type MemoryCounter struct {
	Limit, Usage, MaxUsage, Failcnt uint64
}

// CPUSetDetail is the cpuset: the CPUs and memory nodes (v2: the effective lists) and, on v1,
// its flag files by name (cpu_exclusive, mem_hardwall, ...) and sched_relax_domain_level.
type CPUSetDetail struct {
	Present               bool
	V2                    bool
	CPUs, Mems            []uint16
	Flags                 map[string]uint64
	SchedRelaxDomainLevel int64
}

// HugetlbUsage is one page size's usage, peak and failure count.
type HugetlbUsage struct {
	Usage, MaxUsage, Failcnt uint64
}

// cpusetFlags are the v1 cpuset files that hold one number.
var cpusetFlags = []string{"cpu_exclusive", "mem_hardwall", "mem_exclusive", "memory_migrate",
	"memory_spread_page", "memory_spread_slab", "memory_pressure", "sched_load_balance"}

// ReadCgroupDetail reads the detail of the cgroup whose directories paths gives (one per
// hierarchy, keyed as CgroupPaths keys them). A file that is missing reads as zero.
func ReadCgroupDetail(paths map[string]string) CgroupDetail {
	var d CgroupDetail
	if dir, v2 := controllerDir(paths, "cpuacct"); dir != "" && !v2 {
		d.PercpuUsage = readUintList(filepath.Join(dir, "cpuacct.usage_percpu"))
		d.PercpuKernel = readUintList(filepath.Join(dir, "cpuacct.usage_percpu_sys"))
		d.PercpuUser = readUintList(filepath.Join(dir, "cpuacct.usage_percpu_user"))
	}
	if dir, v2 := controllerDir(paths, "memory"); dir != "" {
		d.MemoryV2 = v2
		d.MemoryStat = readKeyedFile(filepath.Join(dir, "memory.stat"))
		if v2 {
			d.MemoryMax = readUintFile(filepath.Join(dir, "memory.max"))
			d.SwapMax = readUintFile(filepath.Join(dir, "memory.swap.max"))
			d.MemoryEvents = readKeyedFile(filepath.Join(dir, "memory.events"))
		} else {
			d.MemoryCounters = map[string]MemoryCounter{}
			for _, prefix := range []string{"memory", "memory.memsw", "memory.kmem", "memory.kmem.tcp"} {
				p := filepath.Join(dir, prefix)
				d.MemoryCounters[prefix] = MemoryCounter{Limit: readUintFile(p + ".limit_in_bytes"),
					Usage: readUintFile(p + ".usage_in_bytes"), MaxUsage: readUintFile(p + ".max_usage_in_bytes"),
					Failcnt: readUintFile(p + ".failcnt")}
			}
		}
	}
	d.CPUSet = readCPUSet(paths)
	d.Hugetlb = map[string]HugetlbUsage{}
	if dir, v2 := controllerDir(paths, "hugetlb"); dir != "" && !v2 {
		usages, _ := filepath.Glob(filepath.Join(dir, "hugetlb.*.usage_in_bytes"))
		for _, u := range usages {
			size := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(u), "hugetlb."), ".usage_in_bytes")
			if strings.Contains(size, ".") {
				continue // hugetlb.2MB.rsvd.usage_in_bytes: reservations, not usage
			}
			prefix := filepath.Join(dir, "hugetlb."+size)
			d.Hugetlb[size] = HugetlbUsage{Usage: readUintFile(u), MaxUsage: readUintFile(prefix + ".max_usage_in_bytes"),
				Failcnt: readUintFile(prefix + ".failcnt")}
		}
	}
	return d
}

func readCPUSet(paths map[string]string) CPUSetDetail {
	dir, v2 := controllerDir(paths, "cpuset")
	if dir == "" {
		return CPUSetDetail{}
	}
	c := CPUSetDetail{Present: true, V2: v2}
	suffix := ""
	if v2 {
		suffix = ".effective"
	}
	c.CPUs = ReadIDList(filepath.Join(dir, "cpuset.cpus"+suffix))
	c.Mems = ReadIDList(filepath.Join(dir, "cpuset.mems"+suffix))
	if v2 {
		return c
	}
	c.Flags = map[string]uint64{}
	for _, f := range cpusetFlags {
		c.Flags[f] = readUintFile(filepath.Join(dir, "cpuset."+f))
	}
	if v, err := strconv.ParseInt(readTrimmed(filepath.Join(dir, "cpuset.sched_relax_domain_level")), 10, 64); err == nil {
		c.SchedRelaxDomainLevel = v
	}
	return c
}

// controllerDir is the directory in the hierarchy carrying controller: a v1 one if mounted,
// else the cgroup2 one (v2 true) when the controller is enabled there.
func controllerDir(paths map[string]string, controller string) (dir string, v2 bool) {
	for key, d := range paths {
		if key != UnifiedKey && slices.Contains(strings.Split(key, ","), controller) {
			return d, false
		}
	}
	if d, ok := paths[UnifiedKey]; ok {
		if slices.Contains(strings.Fields(readTrimmed(filepath.Join(d, "cgroup.controllers"))), controller) {
			return d, true
		}
	}
	return "", false
}

func readTrimmed(p string) string {
	b, _ := os.ReadFile(p)
	return strings.TrimSpace(string(b))
}

// readUintFile reads a one-number file; "max" is the largest value (cgroup2's "no limit").
func readUintFile(p string) uint64 {
	s := readTrimmed(p)
	if s == "max" {
		return math.MaxUint64
	}
	v, _ := strconv.ParseUint(s, 10, 64)
	return v
}

// readUintList reads a line of numbers (cpuacct.usage_percpu); nil if any is not one.
func readUintList(p string) []uint64 {
	var out []uint64
	for _, f := range strings.Fields(readTrimmed(p)) {
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return nil
		}
		out = append(out, v)
	}
	return out
}

// readKeyedFile reads "key value" lines (memory.stat, memory.events); nil when there are none.
func readKeyedFile(p string) map[string]uint64 {
	out := map[string]uint64{}
	for _, line := range strings.Split(readTrimmed(p), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok {
			if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
				out[k] = n
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// ReadIDList reads a cpuset list file ("0-2,4") into its members; nil if it is malformed.
func ReadIDList(p string) []uint16 {
	var out []uint16
	for _, part := range strings.Split(readTrimmed(p), ",") {
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
				return nil
			}
		}
		for i := a; i <= b; i++ {
			out = append(out, uint16(i))
		}
	}
	return out
}
