package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// controllerWriter applies one controller's part of the resources; v2 says whether dir is in
// the cgroup2 hierarchy.
type controllerWriter struct {
	controller string
	wanted     func(*specs.LinuxResources) bool
	apply      func(c *Cgroup, dir string, v2 bool, res *specs.LinuxResources) error
}

var controllerWriters = []controllerWriter{
	{"cpuset", func(r *specs.LinuxResources) bool { return r.CPU != nil && (r.CPU.Cpus != "" || r.CPU.Mems != "") }, (*Cgroup).applyCpuset},
	{"memory", func(r *specs.LinuxResources) bool { return r.Memory != nil }, (*Cgroup).applyMemory},
	{"cpu", wantCPU, (*Cgroup).applyCPU},
	{"pids", func(r *specs.LinuxResources) bool { return r.Pids != nil }, (*Cgroup).applyPids},
	{"blkio", func(r *specs.LinuxResources) bool { return r.BlockIO != nil }, (*Cgroup).applyBlkio},
	{"hugetlb", func(r *specs.LinuxResources) bool { return len(r.HugepageLimits) > 0 }, (*Cgroup).applyHugetlb},
}

func wantCPU(r *specs.LinuxResources) bool {
	c := r.CPU
	return c != nil && (c.Shares != nil || c.Quota != nil || c.Period != nil || c.Burst != nil ||
		c.RealtimePeriod != nil || c.RealtimeRuntime != nil || c.Idle != nil)
}

// apply writes res into the cgroup, controller by controller, then the device policy. Each
// controller goes to the hierarchy that carries it: on a hybrid machine v1 where v1 mounts
// it, cgroup2 otherwise.
func (c *Cgroup) apply(res *specs.LinuxResources) error {
	if res == nil {
		return nil
	}
	for _, w := range controllerWriters {
		if !w.wanted(res) {
			continue
		}
		controller := w.controller
		dir, v2 := c.controllerDir(controller)
		if dir == "" && controller == "blkio" {
			dir, v2 = c.controllerDir("io")
		}
		if dir == "" {
			if leaf := c.paths[unifiedKey]; leaf != "" {
				return fmt.Errorf("apply %s limits: no v1 hierarchy carries the %s controller, and cgroup2 does not give it to %s (the cgroup.subtree_control of %s and of its ancestors must list it)",
					controller, controller, filepath.Dir(leaf), filepath.Dir(filepath.Dir(leaf)))
			}
			return fmt.Errorf("apply %s limits: no cgroup hierarchy here carries the %s controller", controller, controller)
		}
		if err := w.apply(c, dir, v2, res); err != nil {
			return fmt.Errorf("apply %s limits: %w", controller, err)
		}
	}
	if len(res.Unified) > 0 {
		dir := c.paths[unifiedKey]
		if dir == "" {
			return errors.New("apply unified resources: no cgroup2 hierarchy here")
		}
		keys := make([]string, 0, len(res.Unified))
		for k := range res.Unified {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if filepath.Base(k) != k {
				return fmt.Errorf("apply unified resources: %q is not a control file name", k)
			}
			if err := c.write(dir, k, res.Unified[k]); err != nil {
				return fmt.Errorf("apply unified resources: %w", err)
			}
		}
	}
	if len(res.Devices) > 0 {
		if err := c.applyDevices(res.Devices); err != nil {
			return fmt.Errorf("apply device policy: %w", err)
		}
	}
	return nil
}

func (c *Cgroup) applyCpuset(dir string, _ bool, res *specs.LinuxResources) error {
	if res.CPU.Cpus != "" {
		if err := c.write(dir, "cpuset.cpus", res.CPU.Cpus); err != nil {
			return err
		}
	}
	if res.CPU.Mems != "" {
		return c.write(dir, "cpuset.mems", res.CPU.Mems)
	}
	return nil
}

// limitString is a byte or count limit as cgroup files take it: -1 is unlimited.
func limitString(v int64, v2 bool) string {
	if v < 0 {
		if v2 {
			return "max"
		}
		return "-1"
	}
	return strconv.FormatInt(v, 10)
}

func (c *Cgroup) applyMemory(dir string, v2 bool, res *specs.LinuxResources) error {
	m := res.Memory
	if v2 {
		return c.applyMemoryV2(dir, m)
	}
	var limit, swap int64
	if m.Limit != nil {
		limit = *m.Limit
	}
	if m.Swap != nil {
		swap = *m.Swap
	}
	if limit == -1 && swap == 0 {
		swap = -1 // lifting the memory limit lifts memory+swap too (runc does the same)
	}
	// The kernel keeps memory.memsw.limit_in_bytes >= memory.limit_in_bytes at every write:
	// when memory+swap grows past the current memory limit (or is lifted), it goes first.
	swapFirst := false
	if limit != 0 && swap != 0 {
		cur, err := readTrimmed(filepath.Join(dir, "memory.limit_in_bytes"))
		if err != nil {
			return err
		}
		curLimit, perr := strconv.ParseUint(cur, 10, 64)
		swapFirst = swap == -1 || (perr == nil && curLimit < uint64(swap))
	}
	writeLimit := func() error {
		if limit == 0 {
			return nil
		}
		return c.write(dir, "memory.limit_in_bytes", limitString(limit, false))
	}
	writeSwap := func() error {
		// Without swap accounting (swapaccount=0, no CONFIG_MEMCG_SWAP) there is no memsw
		// file: unlimited is what the kernel does anyway, a number is refused by name.
		if swap == 0 || (swap == -1 && !exists(filepath.Join(dir, "memory.memsw.limit_in_bytes"))) {
			return nil
		}
		return c.write(dir, "memory.memsw.limit_in_bytes", limitString(swap, false))
	}
	order := []func() error{writeLimit, writeSwap}
	if swapFirst {
		order = []func() error{writeSwap, writeLimit}
	}
	for _, w := range order {
		if err := w(); err != nil {
			return err
		}
	}
	if m.Reservation != nil && *m.Reservation != 0 {
		if err := c.write(dir, "memory.soft_limit_in_bytes", limitString(*m.Reservation, false)); err != nil {
			return err
		}
	}
	if m.Swappiness != nil && *m.Swappiness <= 100 {
		if err := c.write(dir, "memory.swappiness", strconv.FormatUint(*m.Swappiness, 10)); err != nil {
			return err
		}
	}
	if m.DisableOOMKiller != nil && *m.DisableOOMKiller {
		return c.write(dir, "memory.oom_control", "1")
	}
	return nil
}

// SwapV2 converts the spec's memory+swap total (v1's memsw) into cgroup2's memory.swap.max,
// which counts swap alone, as runc's ConvertMemorySwapToCgroupV2Value does. 0 means unset.
func SwapV2(memorySwap, memory int64) (int64, error) {
	if memorySwap == -1 || memorySwap == 0 {
		return memorySwap, nil
	}
	if memory == 0 || memory == -1 {
		return 0, errors.New("a swap limit needs a memory limit")
	}
	if memory < 0 || memorySwap < memory {
		return 0, fmt.Errorf("memory+swap limit %d is below the memory limit %d", memorySwap, memory)
	}
	return memorySwap - memory, nil
}

func (c *Cgroup) applyMemoryV2(dir string, m *specs.LinuxMemory) error {
	if m.Swappiness != nil && *m.Swappiness <= 100 {
		return errors.New("memory swappiness has no cgroup v2 file")
	}
	var limit, swap int64
	if m.Limit != nil {
		limit = *m.Limit
	}
	if m.Swap != nil {
		var err error
		if swap, err = SwapV2(*m.Swap, limit); err != nil {
			return err
		}
	}
	// memory.swap.max first: it is independent of memory.max and a failure there leaves the
	// memory limit untouched.
	if swap != 0 && !(swap == -1 && !exists(filepath.Join(dir, "memory.swap.max"))) {
		if err := c.write(dir, "memory.swap.max", limitString(swap, true)); err != nil {
			return err
		}
	}
	if limit != 0 {
		if err := c.write(dir, "memory.max", limitString(limit, true)); err != nil {
			return err
		}
	}
	if m.Reservation != nil && *m.Reservation != 0 {
		if err := c.write(dir, "memory.low", limitString(*m.Reservation, true)); err != nil {
			return err
		}
	}
	if m.DisableOOMKiller != nil && *m.DisableOOMKiller {
		return errors.New("disabling the OOM killer has no cgroup v2 file")
	}
	return nil
}

// SharesToWeight converts v1 cpu.shares (2..262144) to v2 cpu.weight (1..10000) with runc's
// formula (ConvertCPUSharesToCgroupV2Value); 0 stays 0, meaning unset.
func SharesToWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	if shares < 2 {
		shares = 2
	}
	if shares > 262144 {
		shares = 262144
	}
	return 1 + ((shares-2)*9999)/262142
}

// WeightToShares is the inverse of SharesToWeight (for showing a v2 weight in v1 terms).
func WeightToShares(weight uint64) uint64 {
	if weight == 0 {
		return 0
	}
	return 2 + ((weight-1)*262142+9998)/9999
}

// BlkioWeightToIOWeight converts a v1 blkio weight (10..1000) to a v2 io.weight (1..10000)
// with runc's formula (ConvertBlkIOToIOWeightValue); 0 stays 0.
func BlkioWeightToIOWeight(weight uint16) uint64 {
	if weight == 0 {
		return 0
	}
	return 1 + (uint64(weight)-10)*9999/990
}

func (c *Cgroup) applyCPU(dir string, v2 bool, res *specs.LinuxResources) error {
	cpu := res.CPU
	if v2 {
		return c.applyCPUV2(dir, cpu)
	}
	var writes [][2]string
	if cpu.Shares != nil && *cpu.Shares != 0 {
		writes = append(writes, [2]string{"cpu.shares", strconv.FormatUint(*cpu.Shares, 10)})
	}
	if cpu.Period != nil && *cpu.Period != 0 {
		writes = append(writes, [2]string{"cpu.cfs_period_us", strconv.FormatUint(*cpu.Period, 10)})
	}
	if cpu.Quota != nil && *cpu.Quota != 0 {
		writes = append(writes, [2]string{"cpu.cfs_quota_us", strconv.FormatInt(*cpu.Quota, 10)})
	}
	if cpu.Burst != nil {
		writes = append(writes, [2]string{"cpu.cfs_burst_us", strconv.FormatUint(*cpu.Burst, 10)})
	}
	if cpu.RealtimePeriod != nil && *cpu.RealtimePeriod != 0 {
		writes = append(writes, [2]string{"cpu.rt_period_us", strconv.FormatUint(*cpu.RealtimePeriod, 10)})
	}
	if cpu.RealtimeRuntime != nil && *cpu.RealtimeRuntime != 0 {
		writes = append(writes, [2]string{"cpu.rt_runtime_us", strconv.FormatInt(*cpu.RealtimeRuntime, 10)})
	}
	if cpu.Idle != nil {
		writes = append(writes, [2]string{"cpu.idle", strconv.FormatInt(*cpu.Idle, 10)})
	}
	for _, w := range writes {
		if err := c.write(dir, w[0], w[1]); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cgroup) applyCPUV2(dir string, cpu *specs.LinuxCPU) error {
	if cpu.RealtimePeriod != nil || cpu.RealtimeRuntime != nil {
		return errors.New("realtime CPU limits have no cgroup v2 files")
	}
	if cpu.Idle != nil {
		if err := c.write(dir, "cpu.idle", strconv.FormatInt(*cpu.Idle, 10)); err != nil {
			return err
		}
	}
	if cpu.Shares != nil && *cpu.Shares != 0 {
		if err := c.write(dir, "cpu.weight", strconv.FormatUint(SharesToWeight(*cpu.Shares), 10)); err != nil {
			return err
		}
	}
	var quota int64
	var period uint64
	if cpu.Quota != nil {
		quota = *cpu.Quota
	}
	if cpu.Period != nil {
		period = *cpu.Period
	}
	if quota != 0 || period != 0 {
		// cpu.max is "$MAX $PERIOD": one write sets both, so a lone period keeps the quota the
		// file holds now (unlimited in a new cgroup), as v1's separate files would, and as runc's
		// update does. A lone quota keeps the kernel's period by itself.
		v := "max"
		if quota > 0 {
			v = strconv.FormatInt(quota, 10)
		} else if cpu.Quota == nil {
			if cur, err := os.ReadFile(filepath.Join(dir, "cpu.max")); err == nil {
				if q, _, _ := strings.Cut(strings.TrimSpace(string(cur)), " "); q != "max" {
					if _, err := strconv.ParseUint(q, 10, 64); err == nil {
						v = q
					}
				}
			}
		}
		if period != 0 {
			v += " " + strconv.FormatUint(period, 10)
		}
		if err := c.write(dir, "cpu.max", v); err != nil {
			return err
		}
	}
	if cpu.Burst != nil {
		return c.write(dir, "cpu.max.burst", strconv.FormatUint(*cpu.Burst, 10))
	}
	return nil
}

func (c *Cgroup) applyPids(dir string, v2 bool, res *specs.LinuxResources) error {
	if res.Pids.Limit == nil {
		return nil
	}
	v := "max"
	if *res.Pids.Limit > 0 {
		v = strconv.FormatInt(*res.Pids.Limit, 10)
	}
	return c.write(dir, "pids.max", v)
}

func (c *Cgroup) applyBlkio(dir string, v2 bool, res *specs.LinuxResources) error {
	b := res.BlockIO
	if v2 {
		return c.applyIOV2(dir, b)
	}
	if b.Weight != nil && *b.Weight != 0 {
		// Kernels with BFQ and no CFQ name the file blkio.bfq.weight.
		file := "blkio.weight"
		if _, err := os.Stat(filepath.Join(dir, file)); err != nil {
			file = "blkio.bfq.weight"
		}
		if err := c.write(dir, file, strconv.FormatUint(uint64(*b.Weight), 10)); err != nil {
			return err
		}
	}
	if b.LeafWeight != nil && *b.LeafWeight != 0 {
		if err := c.write(dir, "blkio.leaf_weight", strconv.FormatUint(uint64(*b.LeafWeight), 10)); err != nil {
			return err
		}
	}
	weightDevice := "blkio.weight_device"
	if _, err := os.Stat(filepath.Join(dir, weightDevice)); err != nil {
		weightDevice = "blkio.bfq.weight_device"
	}
	for _, wd := range b.WeightDevice {
		if wd.Weight != nil {
			if err := c.write(dir, weightDevice, fmt.Sprintf("%d:%d %d", wd.Major, wd.Minor, *wd.Weight)); err != nil {
				return err
			}
		}
		if wd.LeafWeight != nil {
			if err := c.write(dir, "blkio.leaf_weight_device", fmt.Sprintf("%d:%d %d", wd.Major, wd.Minor, *wd.LeafWeight)); err != nil {
				return err
			}
		}
	}
	throttles := []struct {
		file string
		devs []specs.LinuxThrottleDevice
	}{
		{"blkio.throttle.read_bps_device", b.ThrottleReadBpsDevice},
		{"blkio.throttle.write_bps_device", b.ThrottleWriteBpsDevice},
		{"blkio.throttle.read_iops_device", b.ThrottleReadIOPSDevice},
		{"blkio.throttle.write_iops_device", b.ThrottleWriteIOPSDevice},
	}
	for _, t := range throttles {
		for _, d := range t.devs {
			if err := c.write(dir, t.file, fmt.Sprintf("%d:%d %d", d.Major, d.Minor, d.Rate)); err != nil {
				return err
			}
		}
	}
	return nil
}

// applyIOV2 writes io.weight and io.max (cgroup-v2.rst "IO Interface Files").
func (c *Cgroup) applyIOV2(dir string, b *specs.LinuxBlockIO) error {
	if b.Weight != nil && *b.Weight != 0 {
		if err := c.write(dir, "io.weight", fmt.Sprintf("default %d", BlkioWeightToIOWeight(*b.Weight))); err != nil {
			return err
		}
	}
	for _, wd := range b.WeightDevice {
		if wd.Weight != nil {
			if err := c.write(dir, "io.weight", fmt.Sprintf("%d:%d %d", wd.Major, wd.Minor, BlkioWeightToIOWeight(*wd.Weight))); err != nil {
				return err
			}
		}
	}
	throttles := []struct {
		key  string
		devs []specs.LinuxThrottleDevice
	}{
		{"rbps", b.ThrottleReadBpsDevice},
		{"wbps", b.ThrottleWriteBpsDevice},
		{"riops", b.ThrottleReadIOPSDevice},
		{"wiops", b.ThrottleWriteIOPSDevice},
	}
	for _, t := range throttles {
		for _, d := range t.devs {
			v := "max"
			if d.Rate != 0 {
				v = strconv.FormatUint(d.Rate, 10)
			}
			if err := c.write(dir, "io.max", fmt.Sprintf("%d:%d %s=%s", d.Major, d.Minor, t.key, v)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Cgroup) applyHugetlb(dir string, v2 bool, res *specs.LinuxResources) error {
	for _, l := range res.HugepageLimits {
		if l.Pagesize == "" || filepath.Base(l.Pagesize) != l.Pagesize {
			return fmt.Errorf("bad hugepage size %q", l.Pagesize)
		}
		file := "hugetlb." + l.Pagesize + ".limit_in_bytes"
		if v2 {
			file = "hugetlb." + l.Pagesize + ".max"
		}
		if err := c.write(dir, file, strconv.FormatUint(l.Limit, 10)); err != nil {
			return err
		}
	}
	return nil
}
