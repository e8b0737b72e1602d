package runtime_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox/glassbox/engine/cgroups"
	"github.com/glassbox/glassbox/engine/runtime"
	"github.com/glassbox/glassbox/internal/fault"
	"github.com/glassbox/glassbox/test/fixture"
)

// A create cut off after its state named the container's cgroups but before it made them
// leaves a state whose cgroup paths may be anyone's: here linux.cgroupsPath names a cgroup
// that exists already (which Create refuses, but only when it gets there), with a process in
// it. Delete, and kill --all, of that state must leave the cgroup and its process alone: they
// killed the process and removed the cgroup.
func TestDeleteCutOffLeavesCgroupsItNeverMade(t *testing.T) {
	fixture.NeedRoot(t)
	stateDir := t.TempDir()
	r, err := runtime.New(runtime.Options{StateDir: stateDir})
	if err != nil {
		t.Fatal(err)
	}
	path := "rt-cutoff-foreign"
	foreign, err := cgroups.New(cgroups.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := foreign.Create(); err != nil {
		t.Fatalf("make the cgroup the container must not touch: %v", err)
	}
	sleeper := exec.Command("sleep", "1000")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sleeper.Process.Kill()
		sleeper.Wait()
		foreign.Destroy()
	})
	if err := foreign.Join(sleeper.Process.Pid); err != nil {
		t.Fatalf("put a process in the foreign cgroup: %v", err)
	}

	dir := bundle(t, "", func(s *specs.Spec) { s.Linux.CgroupsPath = path }, "true")
	id := "cutoff"
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), helperCreateEnv+"="+stateDir+":"+id+":"+dir,
		fault.Env+"=runtime-create:saved")
	err = cmd.Run()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the create was to be killed after its first save: %v", err)
	}
	if !r.Exists(id) {
		t.Fatal("the create cut off left no state: the test tests nothing")
	}
	r.Kill(id, syscall.SIGKILL, true)
	if err := r.Delete(id, true); err != nil {
		t.Errorf("delete of the cut-off create: %v", err)
	}
	if r.Exists(id) {
		t.Error("delete left the cut-off create's state")
	}
	if err := syscall.Kill(sleeper.Process.Pid, 0); err != nil {
		t.Errorf("kill --all or delete of a create cut off killed a process of a cgroup it never made: %v", err)
	}
	for _, p := range foreign.Paths() {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("delete of a create cut off removed cgroup %s, which it never made", p)
		}
	}
	for _, p := range foreign.Paths() {
		procs, _ := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		if want := strconv.Itoa(sleeper.Process.Pid); !slices.Contains(strings.Fields(string(procs)), want) {
			t.Errorf("%s holds %q, want its process %s still", p, procs, want)
		}
	}
}
