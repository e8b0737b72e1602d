package inspect

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The files a StatsReader may hold open, one slot each.
type statKind int

const (
	kCPUAcctUsage statKind = iota // v1 cpuacct.usage (ns)
	kCPUAcctStat                  // v1 cpuacct.stat (USER_HZ ticks)
	kCPUStatV1                    // v1 cpu.stat (throttling)
	kCPUQuotaV1
	kCPUPeriodV1
	kCPUStatV2 // v2 cpu.stat (usage and throttling)
	kCPUMaxV2
	kMemUsageV1
	kMemLimitV1
	kMemMaxUsageV1
	kMemStatV1
	kMemKmemV1
	kMemOOMControlV1
	kMemFailcntV1
	kMemCurrentV2
	kMemMaxV2
	kMemPeakV2
	kMemStatV2
	kMemSwapV2
	kMemEventsV2
	kPidsCurrent
	kPidsMax
	kBlkioBytesV1
	kBlkioOpsV1
	kIOStatV2
	kCPUPressure
	kMemPressure
	kIOPressure
	nKinds
)

// USER_HZ is 100 on every architecture's user ABI (times(2)); cpuacct.stat counts in it.
const nanosPerUserHZTick = 10_000_000

// StatsReader reads one cgroup's statistics from files it keeps open, with pread into a
// reused buffer and allocation-free parsing. It is not safe for concurrent use: one owner.
type StatsReader struct {
	id    string
	fds   [nKinds]int
	paths [nKinds]string
	buf   *[]byte

	prevUsage uint64
	prevTime  time.Time
	havePrev  bool
	brief     bool // read only briefKinds (Poller.SetBrief)
}

type fileSpec struct {
	kind statKind
	name string
}

var (
	v1Files = map[string][]fileSpec{
		"cpuacct": {{kCPUAcctUsage, "cpuacct.usage"}, {kCPUAcctStat, "cpuacct.stat"}, {kCPUPressure, "cpu.pressure"}},
		"cpu":     {{kCPUStatV1, "cpu.stat"}, {kCPUQuotaV1, "cpu.cfs_quota_us"}, {kCPUPeriodV1, "cpu.cfs_period_us"}, {kCPUPressure, "cpu.pressure"}},
		"memory": {{kMemUsageV1, "memory.usage_in_bytes"}, {kMemLimitV1, "memory.limit_in_bytes"},
			{kMemMaxUsageV1, "memory.max_usage_in_bytes"}, {kMemStatV1, "memory.stat"},
			{kMemKmemV1, "memory.kmem.usage_in_bytes"}, {kMemOOMControlV1, "memory.oom_control"},
			{kMemFailcntV1, "memory.failcnt"}, {kMemPressure, "memory.pressure"}},
		"pids":  {{kPidsCurrent, "pids.current"}, {kPidsMax, "pids.max"}},
		"blkio": {{kBlkioBytesV1, "blkio.throttle.io_service_bytes_recursive"}, {kBlkioOpsV1, "blkio.throttle.io_serviced_recursive"}, {kIOPressure, "io.pressure"}},
	}
	// cgroup2 files; cpu.stat's usage and the pressure files exist even with no controller
	// enabled (a hybrid machine's cgroup2 mount).
	v2Files = []fileSpec{
		{kCPUStatV2, "cpu.stat"}, {kCPUMaxV2, "cpu.max"},
		{kMemCurrentV2, "memory.current"}, {kMemMaxV2, "memory.max"}, {kMemPeakV2, "memory.peak"},
		{kMemStatV2, "memory.stat"}, {kMemSwapV2, "memory.swap.current"}, {kMemEventsV2, "memory.events"},
		{kPidsCurrent, "pids.current"}, {kPidsMax, "pids.max"}, {kIOStatV2, "io.stat"},
		{kCPUPressure, "cpu.pressure"}, {kMemPressure, "memory.pressure"}, {kIOPressure, "io.pressure"},
	}
)

// OpenStats opens the statistics files of the cgroup whose directory per hierarchy is paths
// (keys as Host.CgroupPaths gives them: "memory", "cpu,cpuacct", "unified"...). v1 files are
// preferred for what a v1 controller carries (on a hybrid machine the limits live there); the
// cgroup2 directory gives the rest, pressure first. Files the kernel does not have are skipped.
func OpenStats(id string, paths map[string]string) (*StatsReader, error) {
	buf := make([]byte, 8192)
	return openStats(id, paths, &buf)
}

func openStats(id string, paths map[string]string, buf *[]byte) (*StatsReader, error) {
	r := &StatsReader{id: id, buf: buf}
	for i := range r.fds {
		r.fds[i] = -1
	}
	keys := make([]string, 0, len(paths))
	for k := range paths {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic choice where two v1 hierarchies offer a file
	var errs []error
	opened := 0
	v1Has := map[string]bool{}
	for _, k := range keys {
		if k == UnifiedKey {
			continue
		}
		for _, ctl := range strings.Split(k, ",") {
			for _, fsp := range v1Files[ctl] {
				v1Has[ctl] = true
				if err := r.open(fsp, paths[k]); err == nil {
					opened++
				} else if !errors.Is(err, unix.ENOENT) {
					errs = append(errs, err)
				}
			}
		}
	}
	if dir, ok := paths[UnifiedKey]; ok {
		for _, fsp := range v2Files {
			if fsp.kind == kCPUStatV2 && v1Has["cpuacct"] && v1Has["cpu"] {
				continue
			}
			if err := r.open(fsp, dir); err == nil {
				opened++
			} else if !errors.Is(err, unix.ENOENT) {
				errs = append(errs, err)
			}
		}
	}
	if opened == 0 {
		r.Close()
		if len(errs) > 0 {
			return nil, fmt.Errorf("open statistics of cgroup %s: %w", id, errors.Join(errs...))
		}
		return nil, fmt.Errorf("open statistics of cgroup %s: no statistics files in %v: %w", id, paths, ErrGone)
	}
	return r, nil
}

// open opens dir/name into the kind's slot unless an earlier hierarchy already filled it.
func (r *StatsReader) open(fsp fileSpec, dir string) error {
	if r.fds[fsp.kind] >= 0 {
		return nil
	}
	p := dir + "/" + fsp.name
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", p, err)
	}
	r.fds[fsp.kind], r.paths[fsp.kind] = fd, p
	return nil
}

// Files maps each file the reader holds open to its path, for showing where a figure comes from.
func (r *StatsReader) Files() []string {
	var out []string
	for _, p := range r.paths {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Close closes the files.
func (r *StatsReader) Close() error {
	for i, fd := range r.fds {
		if fd >= 0 {
			unix.Close(fd)
			r.fds[i] = -1
		}
	}
	return nil
}

// Read fills s with a fresh reading. A removed cgroup sets s.Gone and returns an error
// wrapping ErrGone.
func (r *StatsReader) Read(s *Stats) error {
	*s = Stats{ID: r.id, Time: time.Now()}
	for k := statKind(0); k < nKinds; k++ {
		fd := r.fds[k]
		if fd < 0 || r.brief && !briefKinds[k] {
			continue
		}
		b, err := r.pread(fd)
		if err != nil {
			if gone(err) {
				s.Gone = true
				return fmt.Errorf("read %s: %w", r.paths[k], ErrGone)
			}
			return fmt.Errorf("pread %s: %w", r.paths[k], err)
		}
		parseStat(k, b, s)
	}
	r.cpuPercent(s)
	return nil
}

// pread reads the whole file from offset 0; the buffer doubles if a file fills it (once).
func (r *StatsReader) pread(fd int) ([]byte, error) {
	for {
		buf := *r.buf
		n, err := unix.Pread(fd, buf, 0)
		if err != nil {
			return nil, err
		}
		if n < len(buf) {
			return buf[:n], nil
		}
		*r.buf = make([]byte, 2*len(buf))
	}
}

func (r *StatsReader) cpuPercent(s *Stats) {
	if !s.Has.CPU {
		return
	}
	if r.havePrev && s.CPU.UsageNanos >= r.prevUsage {
		if wall := s.Time.Sub(r.prevTime); wall > 0 {
			s.CPU.Percent = float64(s.CPU.UsageNanos-r.prevUsage) / float64(wall.Nanoseconds()) * 100
			s.CPU.PercentValid = true
		}
	}
	r.prevUsage, r.prevTime, r.havePrev = s.CPU.UsageNanos, s.Time, true
}
