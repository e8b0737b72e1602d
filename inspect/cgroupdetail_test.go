package inspect

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestReadIDList(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		in   string
		want []uint16
	}{
		{"0-2,4", []uint16{0, 1, 2, 4}}, {"1", []uint16{1}}, {"", nil}, {"3-1", nil}, {"a", nil},
	} {
		p := filepath.Join(dir, "cpus")
		os.WriteFile(p, []byte(tc.in+"\n"), 0o644)
		if got := ReadIDList(p); !slices.Equal(got, tc.want) {
			t.Errorf("ReadIDList(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestCgroupDetailV1: on a v1 layout (files as the kernel writes them) the detail has each
// memory counter's four files, per-CPU usage, the cpuset's flags and hugetlb usage by page
// size, and leaves reservations out of hugetlb.
func TestCgroupDetailV1(t *testing.T) {
	root := t.TempDir()
	write := func(controller, name, content string) {
		dir := filepath.Join(root, controller)
		os.MkdirAll(dir, 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("cpuacct", "cpuacct.usage_percpu", "10 20")
	write("memory", "memory.stat", "cache 4096\nrss 8192")
	write("memory", "memory.limit_in_bytes", "9223372036854771712")
	write("memory", "memory.usage_in_bytes", "12288")
	write("memory", "memory.memsw.failcnt", "3")
	write("cpuset", "cpuset.cpus", "0-1")
	write("cpuset", "cpuset.mems", "0")
	write("cpuset", "cpuset.mem_hardwall", "1")
	write("cpuset", "cpuset.sched_relax_domain_level", "-1")
	write("hugetlb", "hugetlb.2MB.usage_in_bytes", "2097152")
	write("hugetlb", "hugetlb.2MB.failcnt", "2")
	write("hugetlb", "hugetlb.2MB.rsvd.usage_in_bytes", "4194304")
	paths := map[string]string{"cpu,cpuacct": filepath.Join(root, "cpuacct"), "memory": filepath.Join(root, "memory"),
		"cpuset": filepath.Join(root, "cpuset"), "hugetlb": filepath.Join(root, "hugetlb")}
	d := ReadCgroupDetail(paths)
	if !slices.Equal(d.PercpuUsage, []uint64{10, 20}) {
		t.Errorf("percpu = %v", d.PercpuUsage)
	}
	if d.MemoryV2 || d.MemoryStat["cache"] != 4096 {
		t.Errorf("memory: v2 %v, stat %v", d.MemoryV2, d.MemoryStat)
	}
	if c := d.MemoryCounters["memory"]; c.Limit != 9223372036854771712 || c.Usage != 12288 {
		t.Errorf("memory counter = %+v", c)
	}
	if c := d.MemoryCounters["memory.memsw"]; c.Failcnt != 3 {
		t.Errorf("memsw counter = %+v", c)
	}
	cs := d.CPUSet
	if !cs.Present || cs.V2 || !slices.Equal(cs.CPUs, []uint16{0, 1}) || cs.Flags["mem_hardwall"] != 1 || cs.SchedRelaxDomainLevel != -1 {
		t.Errorf("cpuset = %+v", cs)
	}
	if len(d.Hugetlb) != 1 || d.Hugetlb["2MB"] != (HugetlbUsage{Usage: 2097152, Failcnt: 2}) {
		t.Errorf("hugetlb = %+v", d.Hugetlb)
	}
}
