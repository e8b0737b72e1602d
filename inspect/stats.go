package inspect

import "time"

// Unlimited is a limit that is not set ("max" in cgroup2; v1's huge page-counter maximum).
const Unlimited = ^uint64(0)

// v1 writes "no limit" as PAGE_COUNTER_MAX in bytes (9223372036854771712 on 4 KiB pages);
// anything from 2^62 up is read as Unlimited.
const unlimitedFloor = uint64(1) << 62

func normLimit(v uint64) uint64 {
	if v >= unlimitedFloor {
		return Unlimited
	}
	return v
}

// Stats is one reading of a cgroup: plain values, no pointers, so a copy is a snapshot.
// A field the kernel does not provide on this machine stays zero; Has says which groups were
// read.
type Stats struct {
	ID   string
	Time time.Time
	// Gone is set once the cgroup has been removed (its files answer ENODEV).
	Gone     bool
	Has      Has
	CPU      CPUStats
	Memory   MemoryStats
	Pids     PidsStats
	IO       IOStats
	Pressure PressureStats
}

// Has says which groups of figures the machine provides for this cgroup.
type Has struct {
	CPU, Throttling, Memory, MemoryEvents, Pids, IO, Pressure bool
}

// CPUStats: usage from cpuacct.usage (v1) or cpu.stat usage_usec (v2); throttling from cpu.stat.
type CPUStats struct {
	UsageNanos  uint64
	UserNanos   uint64
	SystemNanos uint64
	// Percent is CPU time used per wall time since the previous reading, 100 = one full core
	// (docker stats' figure). Valid from the second reading on.
	Percent      float64
	PercentValid bool
	// CFS bandwidth: periods elapsed, periods throttled, time throttled.
	Periods          uint64
	ThrottledPeriods uint64
	ThrottledNanos   uint64
	// QuotaMicros per PeriodMicros; QuotaMicros < 0 means no quota.
	QuotaMicros  int64
	PeriodMicros uint64
}

// LimitCores is the quota as a number of CPUs (0 if there is none).
func (c CPUStats) LimitCores() float64 {
	if c.QuotaMicros <= 0 || c.PeriodMicros == 0 {
		return 0
	}
	return float64(c.QuotaMicros) / float64(c.PeriodMicros)
}

// MemoryStats: usage and limit, and memory.stat's breakdown (v1's hierarchical total_ keys).
type MemoryStats struct {
	UsageBytes   uint64 // memory.usage_in_bytes / memory.current (page cache included)
	LimitBytes   uint64 // Unlimited if none
	PeakBytes    uint64 // memory.max_usage_in_bytes / memory.peak
	AnonBytes    uint64 // v1 total_rss
	FileBytes    uint64 // v1 total_cache
	KernelBytes  uint64 // v1 memory.kmem.usage_in_bytes
	ShmemBytes   uint64
	SwapBytes    uint64 // v1 total_swap; v2 memory.swap.current
	InactiveFile uint64
	// OOM: times the OOM killer was invoked for this cgroup (v2 memory.events oom; v1 under_oom
	// only says whether it is now); OOMKills: processes it killed (oom_kill, both versions).
	OOM      uint64
	OOMKills uint64
	UnderOOM bool
	// LimitHits: times usage hit the limit (v1 memory.failcnt, v2 memory.events max).
	LimitHits uint64
}

// WorkingSetBytes is usage less inactive page cache: what docker stats calls usage.
func (m MemoryStats) WorkingSetBytes() uint64 {
	if m.InactiveFile > m.UsageBytes {
		return 0
	}
	return m.UsageBytes - m.InactiveFile
}

// PidsStats: pids.current and pids.max.
type PidsStats struct {
	Current uint64
	Max     uint64 // Unlimited if "max"
}

// MaxIODevices bounds the per-device IO table, keeping Stats a fixed-size value.
const MaxIODevices = 16

// IOStats: bytes and operations per block device (v1 blkio.throttle.*_recursive, v2 io.stat).
type IOStats struct {
	Devices  [MaxIODevices]IODevice
	NDevices int
	// Truncated is set when the cgroup used more devices than MaxIODevices (totals still count all).
	Truncated                                bool
	ReadBytes, WriteBytes, ReadOps, WriteOps uint64
}

// IODevice is one block device's IO.
type IODevice struct {
	Major, Minor                             uint32
	ReadBytes, WriteBytes, ReadOps, WriteOps uint64
}

// List returns the devices read.
func (io *IOStats) List() []IODevice { return io.Devices[:io.NDevices] }

func (io *IOStats) device(major, minor uint32) *IODevice {
	for i := 0; i < io.NDevices; i++ {
		if d := &io.Devices[i]; d.Major == major && d.Minor == minor {
			return d
		}
	}
	if io.NDevices == MaxIODevices {
		io.Truncated = true
		return nil
	}
	d := &io.Devices[io.NDevices]
	io.NDevices++
	*d = IODevice{Major: major, Minor: minor}
	return d
}

// PressureStats: pressure stall information (Documentation/accounting/psi.rst).
type PressureStats struct {
	CPU, Memory, IO PSI
}

// PSI is one resource's pressure: "some" tasks stalled, or "full" (all non-idle tasks).
type PSI struct {
	Present    bool
	Some, Full PSILine
}

// PSILine holds the running averages (percent of wall time) and the total stall time.
type PSILine struct {
	Avg10, Avg60, Avg300 float64
	TotalMicros          uint64
}
