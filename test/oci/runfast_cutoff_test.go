package oci

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A run cut off after it made the container's cgroups but before its final state (on both
// paths, Go's and the C run's) leaves a state with no init that says the cgroups are made, and
// delete --force of it kills what is in them and removes them. The state is the one a run
// writes there: the running container's, with its init taken out. The C run's said nothing
// of its cgroups, so delete left them and the container's process, as it must for a state
// that named cgroups it never made.
func TestRunCutOffAfterCgroups(t *testing.T) {
	pinGlassboxParent(t)
	e := newEnv(t)
	id := containerID(t)
	t.Cleanup(func() {
		e.Run("delete", "--force", id)
		// What a failing delete left: the test's own container's cgroups, empty by now.
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*/glassbox/" + id)
		more, _ := filepath.Glob("/sys/fs/cgroup/*/*/*/glassbox/" + id)
		for _, d := range append(dirs, more...) {
			syscall.Rmdir(d)
		}
	})
	bundle := e.bundle(nil, "sh", "-c", "echo ready; exec sleep 1000")
	for i, want := range []string{"go", "c"} {
		run := startReady(t, e, bundle, id)
		st := e.waitStatus(id, specs.StateRunning)
		path := filepath.Join(e.root, id, "state.json")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var rec map[string]any
		if err := json.Unmarshal(data, &rec); err != nil {
			t.Fatal(err)
		}
		if rec["cgroups_made"] != true {
			t.Errorf("run %d (%s): the state does not say its cgroups are made: %s", i, want, data)
		}
		trace, _ := os.ReadFile(filepath.Join(e.root, id, "trace.json"))
		// The run is cut off: nothing of it cleans up, and its state is the one with no init.
		run.Process.Signal(syscall.SIGKILL)
		run.Wait()
		rec["pid"], rec["pid_start"] = 0, 0
		if data, err = json.Marshal(rec); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if r := e.Run("delete", "--force", id); r.Code != 0 {
			t.Errorf("run %d (%s): delete --force of the cut-off run: %+v", i, want, r)
		}
		if alive(st.Pid) {
			t.Errorf("run %d (%s): delete --force left the container's process %d", i, want, st.Pid)
			syscall.Kill(st.Pid, syscall.SIGKILL)
		}
		e.stateGone(id)
		cgroupGone(t, id)
		if c := strings.Contains(string(trace), `"runcache"`); c != (want == "c") {
			t.Errorf("run %d: a C run %v, want the %s path", i, c, want)
		}
	}
}

// alive says whether pid is a process that has not ended: killed, it may stay a zombie a
// moment until whoever inherited it reaps it.
func alive(pid int) bool {
	for i := 0; i < 500; i++ {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return false
		}
		if f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:])); len(f) > 0 && f[0] == "Z" {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
