package main

import (
	"math"
	"slices"
	"testing"

	"github.com/glassbox/glassbox/inspect"
)

// TestStatsV2: on a cgroup2 tree (recorded layout, fake values) the stats take runc's v2
// readings: limits from memory.max ("max" is the largest number), failcnt from memory.events,
// swap as memory plus swap, cache from memory.stat's file, cpuset from the effective lists.
func TestStatsV2(t *testing.T) {
	paths := fakeCgroup2(t, "cpuset cpu io memory pids", map[string]string{
		"memory.max":            "max",
		"memory.swap.max":       "1048576",
		"memory.events":         "low 0\nhigh 0\nmax 7\noom 1\noom_kill 1",
		"memory.stat":           "anon 4096\nfile 8192",
		"cpuset.cpus.effective": "0-1",
		"cpuset.mems.effective": "0",
	})
	s := inspect.Stats{}
	s.Memory.UsageBytes, s.Memory.PeakBytes, s.Memory.SwapBytes = 1000, 2000, 10
	s.Pids.Current, s.Pids.Max = 3, inspect.Unlimited
	s.CPU.UsageNanos, s.CPU.UserNanos, s.CPU.SystemNanos = 30, 20, 10
	got := ociStatsOf(&s, paths)
	m := got.Memory
	if m.Usage != (ociMemoryEntry{Limit: math.MaxUint64, Usage: 1000, Max: 2000, Failcnt: 7}) {
		t.Errorf("memory usage = %+v", m.Usage)
	}
	if m.Swap.Limit != math.MaxUint64 || m.Swap.Usage != 1010 || m.Cache != 8192 || m.Raw["anon"] != 4096 {
		t.Errorf("memory = %+v", m)
	}
	if got.Pids != (ociPids{Current: 3}) {
		t.Errorf("pids = %+v, want no limit printed for max", got.Pids)
	}
	if !slices.Equal(got.CPUSet.CPUs, []uint16{0, 1}) || !slices.Equal(got.CPUSet.Mems, []uint16{0}) {
		t.Errorf("cpuset = %+v", got.CPUSet)
	}
	if got.CPU.Usage.Total != 30 || got.CPU.Usage.User != 20 || got.CPU.Usage.Kernel != 10 {
		t.Errorf("cpu = %+v", got.CPU.Usage)
	}
	if got.Hugetlb == nil {
		t.Error("hugetlb is null; runc prints {}")
	}
}
