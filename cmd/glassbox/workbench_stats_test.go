package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTree writes files (path relative to dir -> content) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCgroupfsStats(t *testing.T) {
	dir := t.TempDir()
	// Hybrid, as this machine: v1 controllers and a v2 tree with cpu.stat and pressure only.
	writeTree(t, dir, map[string]string{
		"cpuacct/c/cpuacct.usage":                           "2500000000\n",
		"cpu/c/cpu.stat":                                    "nr_periods 10\nnr_throttled 4\nthrottled_time 7000000\n",
		"memory/c/memory.usage_in_bytes":                    "10485760\n",
		"memory/c/memory.limit_in_bytes":                    "67108864\n",
		"memory/c/memory.stat":                              "cache 100\nrss 200\ntotal_cache 4096\ntotal_rss 8192\n",
		"memory/c/memory.oom_control":                       "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
		"pids/c/pids.current":                               "5\n",
		"pids/c/pids.max":                                   "max\n",
		"blkio/c/blkio.throttle.io_service_bytes_recursive": "8:0 Read 4096\n8:0 Write 1024\n8:0 Total 5120\n8:16 Read 4096\nTotal 9216\n",
		"unified/c/cpu.stat":                                "usage_usec 1\n",
		"unified/c/cpu.pressure":                            "some avg10=1.50 avg60=0.00 avg300=0.00 total=1\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
		"unified/c/memory.pressure":                         "some avg10=0.25 avg60=0.00 avg300=0.00 total=1\n",
	})
	hybrid := map[string]string{"cpu": dir + "/cpu/c", "cpuacct": dir + "/cpuacct/c", "memory": dir + "/memory/c",
		"pids": dir + "/pids/c", "blkio": dir + "/blkio/c", "unified": dir + "/unified/c"}
	s, err := cgroupfsStats{}.ReadStats(t.Context(), hybrid)
	if err != nil {
		t.Fatal(err)
	}
	if s.CPUUsageNanos != 2_500_000_000 || !strings.HasSuffix(s.Files["cpu"], "cpuacct.usage") {
		t.Errorf("cpu %d from %q, want cpuacct.usage's 2.5s", s.CPUUsageNanos, s.Files["cpu"])
	}
	if s.ThrottledPeriods != 4 || s.ThrottledNanos != 7_000_000 {
		t.Errorf("throttled %d periods %d ns", s.ThrottledPeriods, s.ThrottledNanos)
	}
	if s.MemoryBytes != 10<<20 || s.MemoryLimitBytes != 64<<20 || s.MemoryCacheBytes != 4096 || s.MemoryAnonBytes != 8192 || s.OOMKills != 2 {
		t.Errorf("memory %+v", s)
	}
	if s.Pids != 5 || s.PidsLimit != 0 {
		t.Errorf("pids %d limit %d, want 5 and unlimited", s.Pids, s.PidsLimit)
	}
	if s.IOReadBytes != 8192 || s.IOWriteBytes != 1024 {
		t.Errorf("io read %d write %d, want 8192 and 1024 (Total lines not counted)", s.IOReadBytes, s.IOWriteBytes)
	}
	if !s.HasPressure || s.CPUPressureAvg10 != 1.5 || s.MemPressureAvg10 != 0.25 {
		t.Errorf("pressure %v %v %v", s.HasPressure, s.CPUPressureAvg10, s.MemPressureAvg10)
	}

	// Pure v2.
	writeTree(t, dir, map[string]string{
		"v2/c/cpu.stat":       "usage_usec 1500000\nnr_throttled 1\nthrottled_usec 250\n",
		"v2/c/memory.current": "2048\n",
		"v2/c/memory.max":     "max\n",
		"v2/c/memory.stat":    "anon 1024\nfile 512\n",
		"v2/c/memory.events":  "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
		"v2/c/pids.current":   "2\n",
		"v2/c/pids.max":       "64\n",
		"v2/c/io.stat":        "8:0 rbytes=100 wbytes=50 rios=1 wios=1\n8:16 rbytes=1 wbytes=2\n",
	})
	s, err = cgroupfsStats{}.ReadStats(t.Context(), map[string]string{"": dir + "/v2/c"})
	if err != nil {
		t.Fatal(err)
	}
	if s.CPUUsageNanos != 1_500_000_000 || s.ThrottledNanos != 250_000 || s.MemoryBytes != 2048 || s.MemoryLimitBytes != 0 ||
		s.MemoryAnonBytes != 1024 || s.MemoryCacheBytes != 512 || s.OOMKills != 1 || s.Pids != 2 || s.PidsLimit != 64 ||
		s.IOReadBytes != 101 || s.IOWriteBytes != 52 {
		t.Errorf("v2 sample %+v", s)
	}

	// A container whose cgroups are gone is an error, not zeros.
	if _, err := (cgroupfsStats{}).ReadStats(t.Context(), map[string]string{"memory": dir + "/gone"}); err == nil {
		t.Errorf("reading a removed cgroup should fail")
	}
}
