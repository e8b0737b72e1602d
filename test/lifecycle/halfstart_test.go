package lifecycle

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/glassbox/glassbox/engine/shim"
	"github.com/glassbox/glassbox/internal/fault"
)

// containerCgroups lists the cgroups glassbox makes for container id from this process's
// cgroups (its CLIs and their shims run in them): ROOT-of-hierarchy/<own>/glassbox/<id>.
func containerCgroups(id string) []string {
	var out []string
	for _, own := range shim.CgroupPaths(os.Getpid()) {
		if p := filepath.Join(own, "glassbox", id); exists(p) {
			out = append(out, p)
		}
	}
	return out
}

// cgroupProcs lists the processes in the cgroups dirs.
func cgroupProcs(dirs []string) []int {
	seen := map[int]bool{}
	var pids []int
	for _, d := range dirs {
		data, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
				seen[pid] = true
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// A shim SIGKILLed inside the runtime's create, once the container's cgroups exist and its
// init waits in them but before the runtime saved its state, leaves a start cut off. gc
// reclaims it (no live shim holds it), so does rm, and a new start of the container works
// without either.
func TestShimKilledInRuntimeCreate(t *testing.T) {
	e := newEnv(t)
	for _, then := range []string{"gc", "rm", "start"} {
		n := name(t) + then
		id := e.Must("create", "--name", n, e.image, "sleep", "1000")
		cmd := e.Command("start", n)
		cmd.Env = append(os.Environ(), fault.Env+"=runtime-create:cgroup")
		if r := e.RunCmd(cmd); r.Code == 0 {
			t.Fatalf("start with its shim killed in the runtime's create: %+v", r)
		}
		cgroups := containerCgroups(id)
		pids := cgroupProcs(cgroups)
		t.Cleanup(func() { reclaim(cgroups, pids) }) // whatever the fix misses, the test takes back
		if len(cgroups) == 0 || len(pids) == 0 {
			t.Fatalf("the crash left no cgroup (%v) or no init (%v): the test tests nothing", cgroups, pids)
		}
		switch then {
		case "gc":
			e.Must("gc")
		case "rm":
			e.Must("rm", n)
		case "start":
			e.Must("start", n)
			if d := e.inspect(n); !d.State.Running {
				t.Fatalf("start after a start cut off: %+v", d.State)
			}
			e.Must("rm", "-f", n)
		}
		for _, pid := range pids {
			waitFor(t, "the cut-off start's init to go", func() bool { return !alive(pid) || zombie(pid) })
		}
		if left := containerCgroups(id); len(left) > 0 {
			t.Errorf("after %s: cgroups left: %v", then, left)
		}
		if exists(filepath.Join(e.root, "runtime", id)) {
			t.Errorf("after %s: the runtime's state is left", then)
		}
		if then == "gc" {
			e.Must("start", n) // it starts anew, and so can be removed
			e.Must("rm", "-f", n)
		}
	}
}

// reclaim kills pids and removes the cgroups dirs, the test's own container's: what a failed
// run of a leak test would otherwise leave on the machine.
func reclaim(cgroups []string, pids []int) {
	for _, pid := range pids {
		if alive(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	for _, d := range cgroups {
		for i := 0; i < 50 && exists(d); i++ {
			if syscall.Rmdir(d) != nil {
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
}
