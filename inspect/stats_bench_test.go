package inspect

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkPollOne reads one real cgroup (this test's own, read-only) as the poller does:
// files held open, pread, allocation-free parsing. Run it with -benchmem: the aim is 0
// allocs/op.
func BenchmarkPollOne(b *testing.B) {
	paths, err := Host{}.CgroupPaths(os.Getpid())
	if err != nil {
		b.Skip(err)
	}
	r, err := OpenStats("self", paths)
	if err != nil {
		b.Skip(err)
	}
	defer r.Close()
	b.ReportMetric(float64(len(r.Files())), "files")
	var s Stats
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Read(&s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPollOneNaive is the same reading done the usual way (open, read, close each file,
// then strings.Fields), as the floor the poller's design is measured against.
func BenchmarkPollOneNaive(b *testing.B) {
	paths, err := Host{}.CgroupPaths(os.Getpid())
	if err != nil {
		b.Skip(err)
	}
	r, err := OpenStats("self", paths)
	if err != nil {
		b.Skip(err)
	}
	files := r.Files()
	r.Close()
	b.ReportAllocs()
	for b.Loop() {
		var sum uint64
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			for _, line := range strings.Split(string(data), "\n") {
				fs := strings.Fields(line)
				if len(fs) > 0 {
					v, _ := strconv.ParseUint(fs[len(fs)-1], 10, 64)
					sum += v
				}
			}
		}
		_ = sum
	}
}

func TestReadAllocatesNothing(t *testing.T) {
	_, r := readTree(t, "unified")
	var s Stats
	if n := testing.AllocsPerRun(100, func() { r.Read(&s) }); n != 0 {
		t.Errorf("Read allocates %v times per call, want 0", n)
	}
}
