package inspect

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const recordedPid = 4242

func readTree(t *testing.T, tree string) (Stats, *StatsReader) {
	t.Helper()
	h := Host{Root: filepath.Join("testdata", tree)}
	paths, err := h.CgroupPaths(recordedPid)
	if err != nil {
		t.Fatal(err)
	}
	r, err := OpenStats(tree, paths)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	var s Stats
	if err := r.Read(&s); err != nil {
		t.Fatal(err)
	}
	return s, r
}

func TestStatsRecordedTrees(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		tree  string
		check func(t *testing.T, s Stats)
	}{
		{"hybrid", func(t *testing.T, s Stats) {
			eq(t, "usage ns", s.CPU.UsageNanos, 3523041230)
			eq(t, "user ns", s.CPU.UserNanos, 301*nanosPerUserHZTick)
			eq(t, "system ns", s.CPU.SystemNanos, 51*nanosPerUserHZTick)
			eq(t, "quota", s.CPU.QuotaMicros, int64(-1))
			eq(t, "period", s.CPU.PeriodMicros, 100000)
			eq(t, "memory usage", s.Memory.UsageBytes, 30879744)
			eq(t, "memory limit", s.Memory.LimitBytes, Unlimited)
			eq(t, "memory peak", s.Memory.PeakBytes, 60882944)
			eq(t, "anon", s.Memory.AnonBytes, 30396416)
			eq(t, "kernel", s.Memory.KernelBytes, 266240)
			eq(t, "pids", s.Pids.Current, 3)
			eq(t, "pids max", s.Pids.Max, Unlimited)
			// PSI comes from the cgroup2 mount, which has no controllers here.
			eq(t, "cpu some avg10", s.Pressure.CPU.Some.Avg10, 2.89)
			eq(t, "cpu full total", s.Pressure.CPU.Full.TotalMicros, 635256)
			eq(t, "has", s.Has, Has{CPU: true, Throttling: true, Memory: true, MemoryEvents: true, Pids: true, IO: true, Pressure: true})
		}},
		{"legacy", func(t *testing.T, s Stats) {
			eq(t, "quota cores", s.CPU.LimitCores(), 0.5)
			eq(t, "periods", s.CPU.Periods, 30)
			eq(t, "throttled", s.CPU.ThrottledPeriods, 9)
			eq(t, "throttled ns", s.CPU.ThrottledNanos, 450000000)
			eq(t, "limit", s.Memory.LimitBytes, 128*mib)
			eq(t, "limit hits", s.Memory.LimitHits, 42)
			eq(t, "oom kills", s.Memory.OOMKills, 3)
			eq(t, "under oom", s.Memory.UnderOOM, true)
			eq(t, "devices", s.IO.NDevices, 2)
			eq(t, "sda", s.IO.Devices[0], IODevice{Major: 8, Minor: 0, ReadBytes: 4096, WriteBytes: 8192, ReadOps: 1, WriteOps: 2})
			eq(t, "read bytes", s.IO.ReadBytes, 4608)
			eq(t, "write ops", s.IO.WriteOps, 2)
			eq(t, "pressure", s.Has.Pressure, false)
		}},
		{"unified", func(t *testing.T, s Stats) {
			eq(t, "usage ns", s.CPU.UsageNanos, 2500000000)
			eq(t, "user ns", s.CPU.UserNanos, 2000000000)
			eq(t, "throttled", s.CPU.ThrottledPeriods, 12)
			eq(t, "throttled ns", s.CPU.ThrottledNanos, 300000000)
			eq(t, "quota cores", s.CPU.LimitCores(), 0.5)
			eq(t, "usage", s.Memory.UsageBytes, 100*mib)
			eq(t, "limit", s.Memory.LimitBytes, 256*mib)
			eq(t, "peak", s.Memory.PeakBytes, 128*mib)
			eq(t, "anon", s.Memory.AnonBytes, 70*mib)
			eq(t, "file", s.Memory.FileBytes, 20*mib)
			eq(t, "kernel", s.Memory.KernelBytes, 5*mib)
			eq(t, "shmem", s.Memory.ShmemBytes, 1*mib)
			eq(t, "swap", s.Memory.SwapBytes, 2*mib)
			eq(t, "working set", s.Memory.WorkingSetBytes(), 90*mib)
			eq(t, "limit hits", s.Memory.LimitHits, 17)
			eq(t, "oom", s.Memory.OOM, 2)
			eq(t, "oom kills", s.Memory.OOMKills, 1)
			eq(t, "pids", s.Pids, PidsStats{Current: 7, Max: 100})
			eq(t, "nvme", s.IO.Devices[1], IODevice{Major: 259, Minor: 0, ReadBytes: 2048, ReadOps: 1})
			eq(t, "write bytes", s.IO.WriteBytes, 4*mib)
			eq(t, "cpu psi", s.Pressure.CPU.Some, PSILine{Avg10: 12.5, Avg60: 3.25, Avg300: 0.75, TotalMicros: 1234567})
			eq(t, "memory full", s.Pressure.Memory.Full.Avg10, 0.5)
			eq(t, "io full total", s.Pressure.IO.Full.TotalMicros, 5)
		}},
	} {
		t.Run(tc.tree, func(t *testing.T) {
			s, _ := readTree(t, tc.tree)
			if s.ID != tc.tree || s.Gone {
				t.Errorf("id %q gone %v", s.ID, s.Gone)
			}
			tc.check(t, s)
		})
	}
}

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func TestCPUPercentFromDeltas(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "cg")
	os.MkdirAll(dir, 0o755)
	write := func(usage string) {
		if err := os.WriteFile(filepath.Join(dir, "cpuacct.usage"), []byte(usage+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("1000000000")
	r, err := OpenStats("c", map[string]string{"cpu,cpuacct": dir})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var s Stats
	if r.Read(&s); s.CPU.PercentValid {
		t.Fatalf("first reading has a percent: %v", s.CPU.Percent)
	}
	time.Sleep(50 * time.Millisecond)
	write("1030000000") // 30 ms of CPU in >= 50 ms of wall time: at most 60 %
	r.Read(&s)
	if !s.CPU.PercentValid || s.CPU.Percent <= 0 || s.CPU.Percent > 60 {
		t.Errorf("percent = %v (valid %v), want in (0, 60]", s.CPU.Percent, s.CPU.PercentValid)
	}
}

func TestPollerDropsGoneCgroups(t *testing.T) {
	root := t.TempDir()
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	for _, d := range []string{a, b} {
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "pids.current"), []byte("3\n"), 0o644)
	}
	p := NewPoller(time.Second)
	defer p.Close()
	if err := p.Add("a", map[string]string{"pids": a}); err != nil {
		t.Fatal(err)
	}
	if err := p.Add("b", map[string]string{"pids": b}); err != nil {
		t.Fatal(err)
	}
	if err := p.Add("none", map[string]string{"pids": filepath.Join(root, "missing")}); err == nil {
		t.Error("Add of a cgroup with no files succeeded")
	}
	batch := p.Poll()
	if len(batch) != 2 || batch[0].ID != "a" || batch[1].Pids.Current != 3 {
		t.Fatalf("batch = %v", batch)
	}
	p.Remove("a")
	if got := p.Poll(); len(got) != 1 || got[0].ID != "b" {
		t.Fatalf("after Remove: %v", got)
	}
}

func TestParsersIgnoreJunk(t *testing.T) {
	var s Stats
	for k := statKind(0); k < nKinds; k++ {
		for _, junk := range []string{"", "\n", "garbage", "8:0", "some avg10=", "x y z\n\n", strings.Repeat("9", 40)} {
			parseStat(k, []byte(junk), &s) // must not panic
		}
	}
}
