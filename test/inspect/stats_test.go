package inspect

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/glassbox/glassbox/test/fixture"
)

// statsLine is the part of one `glassbox stats --format json` line this test reads.
type statsLine struct {
	Name   string
	PIDs   uint64
	Memory struct{ UsageBytes, ShmemBytes uint64 }
	CPU    struct{ UsageNanos, ThrottledPeriods uint64 }
}

// TestStatsMoveWithLoad runs a container that fills 64 MiB of its /dev/shm and then spins on
// half a CPU (--cpus 0.5), and checks that glassbox stats sees what must happen: shmem and usage
// of at least the 64 MiB, CPU time growing between readings, throttled periods counted, and
// the container's processes.
func TestStatsMoveWithLoad(t *testing.T) {
	fixture.NeedRoot(t)
	bin := fixture.Glassbox(t)
	reg := fixture.NewRegistry()
	t.Cleanup(reg.Close)
	img, err := fixture.Busybox()
	if err != nil {
		t.Fatal(err)
	}
	ref, err := reg.Push("busybox:latest", img)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	gbr := func(args ...string) []byte {
		t.Helper()
		out, err := exec.Command(bin, append([]string{"--root", root}, args...)...).Output()
		if err != nil {
			msg := ""
			if ee, ok := err.(*exec.ExitError); ok {
				msg = string(ee.Stderr)
			}
			t.Fatalf("glassbox %s: %v: %s", strings.Join(args, " "), err, msg)
		}
		return out
	}
	gbr("pull", "-q", ref)
	name := fmt.Sprintf("inspect-load-%d", time.Now().UnixNano()%1e6)
	gbr("run", "-d", "--name", name, "--network", "none", "--cpus", "0.5", ref, "sh", "-c",
		"dd if=/dev/zero of=/dev/shm/hog bs=1M count=64 2>/dev/null; while :; do :; done")
	t.Cleanup(func() { exec.Command(bin, "--root", root, "rm", "-f", name).Run() })

	read := func() statsLine {
		t.Helper()
		var s statsLine
		lines := strings.Split(strings.TrimSpace(string(gbr("stats", "--no-stream", "--format", "json", name))), "\n")
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil {
			t.Fatalf("stats line %q: %v", lines[len(lines)-1], err)
		}
		return s
	}
	const hog = 64 << 20
	var first, last statsLine
	first = read()
	waitFor(t, "the hog, CPU time and throttling to show", func() bool {
		last = read()
		return last.Memory.ShmemBytes >= hog && last.CPU.UsageNanos > first.CPU.UsageNanos &&
			last.CPU.ThrottledPeriods > 0
	})
	if last.Memory.UsageBytes < last.Memory.ShmemBytes {
		t.Errorf("memory usage %d below its shmem %d", last.Memory.UsageBytes, last.Memory.ShmemBytes)
	}
	if last.PIDs < 1 {
		t.Errorf("PIDs %d, want the container's shell", last.PIDs)
	}
	if last.Name != name {
		t.Errorf("stats names %q, want %q", last.Name, name)
	}
}
