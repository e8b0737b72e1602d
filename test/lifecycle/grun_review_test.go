package lifecycle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/glassbox/glassbox/engine"
	"github.com/glassbox/glassbox/engine/state"
	"github.com/glassbox/glassbox/test/fixture"
)

// TestRunInCProcessMatchesGo: the container's program sees the same signal dispositions,
// signal mask and open descriptors whether Go or C ran it: nothing the C shim ignored or
// opened reaches the container.
func TestRunInCProcessMatchesGo(t *testing.T) {
	e := newEnv(t)
	e.pinParent()
	args := []string{"--rm", "--network", "none", e.image, "sh", "-c",
		"grep -E '^Sig(Blk|Ign)' /proc/self/status; ls /proc/self/fd | tr '\\n' ' '"}
	first, inC := e.runTraced(args...)
	if inC || first.Code != 0 {
		t.Fatalf("the first run: %+v (in C: %v)", first, inC)
	}
	second, inC := e.runTraced(args...)
	if !inC {
		t.Fatalf("the second run did not run in C: %+v", second)
	}
	// SIGTTIN and SIGTTOU aside: Go's shim leaves them ignored for run -it --init's reaper.
	jobControl := "SigIgn:\t0000000000300000"
	if strings.Replace(first.Stdout, jobControl, "SigIgn:\t0000000000000000", 1) != second.Stdout {
		t.Errorf("the program's signals and descriptors differ:\nGo:\n%s\nC:\n%s", first.Stdout, second.Stdout)
	}
	// The shim's own ignored SIGPIPE, SIGHUP and SIGINT do not reach the program.
	if !strings.Contains(first.Stdout, jobControl) && !strings.Contains(first.Stdout, "SigIgn:\t0000000000000000") {
		t.Errorf("the Go run's program ignores signals:\n%s", first.Stdout)
	}
}

// TestRunInCPrunesTombstones: a C run --rm keeps its last record under ROOT/exits as Go's
// removal does, and deletes the ones older than state.TombstoneLife as Go's does: a host of
// short runs does not pile them up.
func TestRunInCPrunesTombstones(t *testing.T) {
	e := newEnv(t)
	e.pinParent()
	args := []string{"--rm", "--network", "none", e.image, "true"}
	if r, inC := e.runTraced(args...); inC || r.Code != 0 {
		t.Fatalf("the first run: %+v (in C: %v)", r, inC)
	}
	exits := filepath.Join(e.root, "exits")
	now := time.Now()
	old := filepath.Join(exits, fmt.Sprintf("%064x.%d", 1, now.Add(-2*state.TombstoneLife).UnixNano()))
	fresh := filepath.Join(exits, fmt.Sprintf("%064x.%d", 2, now.UnixNano()))
	for _, p := range []string{old, fresh} {
		if err := os.WriteFile(p, []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The first run's removal pruned just now: the next prune is due state.PruneEvery later.
	mark := filepath.Join(exits, ".pruned")
	if fi, err := os.Stat(mark); err != nil || time.Since(fi.ModTime()) > state.PruneEvery {
		t.Fatalf("the first run's prune left no fresh %s: %v", mark, err)
	}
	then := now.Add(-2 * state.PruneEvery)
	if err := os.Chtimes(mark, then, then); err != nil {
		t.Fatal(err)
	}
	if r, inC := e.runTraced(args...); !inC || r.Code != 0 {
		t.Fatalf("the second run: %+v (in C: %v)", r, inC)
	}
	// The shim prunes after it sent the exit frame: the run's caller may be gone by then.
	waitFor(t, "the tombstone older than state.TombstoneLife to go", func() bool {
		_, err := os.Stat(old)
		return errors.Is(err, os.ErrNotExist)
	})
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a fresh tombstone went: %v", err)
	}
	ents, _ := os.ReadDir(exits)
	if len(ents) != 4 { // .pruned, fresh, and one per run
		t.Errorf("%d entries in %s, want 4", len(ents), exits)
	}
	// Within state.PruneEvery of that prune, a run leaves old tombstones for the next.
	if err := os.WriteFile(old, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r, inC := e.runTraced(args...); !inC || r.Code != 0 {
		t.Fatalf("the third run: %+v (in C: %v)", r, inC)
	}
	waitFor(t, "the third run's tombstone and its shim's purge of the trash", func() bool {
		ents, _ := os.ReadDir(exits)
		trash, _ := os.ReadDir(filepath.Join(e.root, "trash"))
		return len(ents) == 6 && len(trash) == 0
	})
	time.Sleep(200 * time.Millisecond) // the shim's prune would come right after the purge
	if _, err := os.Stat(old); err != nil {
		t.Errorf("a run within state.PruneEvery of the last prune pruned: %v", err)
	}
}

// TestRunInCClosedStdio: a caller that closed its stdin (or stdin and stdout, as a daemon
// may) gets the same container from the C run as from Go's: the program's stdin is
// /dev/null and its output arrives; the C run's own pipes landing on 0, 1 or 2 must not
// stay close-on-exec there or be overwritten.
func TestRunInCClosedStdio(t *testing.T) {
	e := newEnv(t)
	e.pinParent()
	for c, closing := range []string{"<&-", "<&- >&-", "<&- 2>&-"} {
		// A command line of its own: the first run of each is Go's.
		args := []string{"--rm", "--network", "none", e.image, "sh", "-c", "readlink /proc/self/fd/0 >&2; echo out" + fmt.Sprint(c) + " >&2"}
		var outs []string
		for i, want := range []bool{false, true} {
			log := filepath.Join(t.TempDir(), "stderr")
			trace := filepath.Join(t.TempDir(), "trace")
			cli := e.Command(append([]string{"run"}, args...)...)
			redirect := closing
			if !strings.Contains(closing, "2>&-") {
				redirect += " 2>" + log
			}
			cmd := exec.Command("bash", append([]string{"-c", `exec "$0" "$@" ` + redirect}, cli.Args...)...)
			cmd.Env = append(os.Environ(), "GLASSBOX_RUN_TRACE="+trace)
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("%s, run %d: %v", closing, i, err)
				}
			case <-time.After(60 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("%s, run %d: the run did not end", closing, i)
			}
			data, _ := os.ReadFile(trace)
			if inC := strings.TrimSpace(string(data)) == "grun"; inC != want {
				t.Errorf("%s, run %d: in C %v, want %v", closing, i, inC, want)
			}
			out, _ := os.ReadFile(log)
			outs = append(outs, string(out))
		}
		if outs[0] != outs[1] {
			t.Errorf("%s: Go's run wrote %q, C's %q", closing, outs[0], outs[1])
		}
	}
	if cs := e.ps(true); len(cs) != 1 {
		t.Errorf("%d containers after the runs --rm, want the pin alone", len(cs))
	}
}

// TestRunInCMountPointLayer: a C run makes no mount point in the container's upper directory:
// they come from the image's mount-point layer, the topmost of its lower directories and
// the Go container's lowers below it; the container runs with its mounts there, diff shows
// nothing, and a write lands in the upper directory as ever.
func TestRunInCMountPointLayer(t *testing.T) {
	e := newEnv(t)
	e.pinParent()
	run := func(n string) bool {
		r, inC := e.runTraced("-d", "--network", "none", "--name", n, e.image, "sleep", "1000")
		if r.Code != 0 {
			t.Fatalf("run -d --name %s: %+v", n, r)
		}
		return inC
	}
	goName, cName := name(t)+"-go", name(t)+"-c"
	if run(goName) || !run(cName) {
		t.Fatal("want the first run in Go, the second in C")
	}
	g, c := e.inspect(goName).GraphDriver.Data, e.inspect(cName).GraphDriver.Data
	lowers := strings.Split(c.LowerDir, ":")
	if !strings.HasPrefix(lowers[0], filepath.Join(e.root, "images", "init")+"/") || strings.Join(lowers[1:], ":") != g.LowerDir {
		t.Fatalf("the C container's lowers %v; want the mount-point layer over the Go one's %s", lowers, g.LowerDir)
	}
	if ents, err := os.ReadDir(c.UpperDir); err != nil || len(ents) != 0 {
		t.Errorf("the C container's upper directory holds %d entries (%v), want none", len(ents), err)
	}
	hostname := strings.TrimSpace(e.Must("exec", cName, "cat", "/etc/hostname"))
	if id := e.inspect(cName).ID; hostname != id[:12] {
		t.Errorf("/etc/hostname %q, want %q", hostname, id[:12])
	}
	mounts := e.Must("exec", cName, "cat", "/proc/self/mounts")
	for _, m := range []string{" /proc proc ", " /dev/pts devpts ", " /sys sysfs ", " /etc/hostname "} {
		if !strings.Contains(mounts, m) {
			t.Errorf("no %q mount in the C container:\n%s", m, mounts)
		}
	}
	if out := e.Must("diff", cName); out != "" {
		t.Errorf("diff of the C container: %q, want nothing", out)
	}
	e.Must("exec", cName, "touch", "/etc/new")
	if _, err := os.Stat(filepath.Join(c.UpperDir, "etc", "new")); err != nil {
		t.Errorf("a write in the C container: %v", err)
	}
	e.Must("rm", "-f", goName, cName)
}

// TestRunInCReportsOOM: a C run's shim finds an OOM kill as Go's does (the memory
// hierarchies' counters): exit 137 and OOMKilled in inspect, for the Go run and the C run of
// one command line.
func TestRunInCReportsOOM(t *testing.T) {
	e := newEnv(t)
	e.pinParent()
	for i, wantC := range []bool{false, true} {
		n := fmt.Sprintf("%s-%d", name(t), i)
		r, inC := e.runTraced("-d", "--network", "none", "--name", n, "-m", "16m", "--memory-swap", "16m", e.image,
			"sh", "-c", "a=aaaaaaaaaaaaaaaa; while true; do a=$a$a; done")
		if r.Code != 0 || inC != wantC {
			t.Fatalf("run %d: %+v (in C: %v, want %v)", i, r, inC, wantC)
		}
		if out := strings.TrimSpace(e.Must("wait", n)); out != "137" {
			t.Fatalf("run %d: wait says %q, want 137", i, out)
		}
		if d := e.inspect(n); !d.State.OOMKilled || d.State.ExitCode != 137 {
			t.Errorf("run %d (in C: %v): inspect after the OOM kill: %+v", i, inC, d.State)
		}
		e.Must("rm", n)
	}
}

// TestRunInCExitHelper: the C run's caller leaves the teardown of its address space to a
// helper (exit_quickly): the run's status and output are the program's, the caller's stdout
// reaches its end, and no process of the run's process group outlives it but as a zombie.
func TestRunInCExitHelper(t *testing.T) {
	e := newEnv(t)
	e.pinParent()
	args := []string{"run", "--rm", "--network", "none", e.image, "sh", "-c", "echo out; exit 4"}
	for i, wantC := range []bool{false, true, true} {
		trace := filepath.Join(t.TempDir(), "trace")
		cmd := e.Command(args...)
		cmd.Env = append(os.Environ(), "GLASSBOX_RUN_TRACE="+trace)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		out, err := cmd.Output()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 4 || string(out) != "out\n" {
			t.Fatalf("run %d: %q, %v; want out and status 4", i, out, err)
		}
		if data, _ := os.ReadFile(trace); (strings.TrimSpace(string(data)) == "grun") != wantC {
			t.Fatalf("run %d: in C %q, want %v", i, data, wantC)
		}
		pgid := cmd.Process.Pid
		waitFor(t, "the run's process group to be gone", func() bool {
			ents, _ := os.ReadDir("/proc")
			for _, en := range ents {
				stat, err := os.ReadFile(filepath.Join("/proc", en.Name(), "stat"))
				if err != nil {
					continue
				}
				// pid (comm) state ppid pgrp ...: the fields after the last ')'.
				f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
				if len(f) > 2 && f[2] == fmt.Sprint(pgid) && f[0] != "Z" {
					return false
				}
			}
			return true
		})
	}
}

// TestRunInCCgroupFailureUndone: a C run whose cgroups cannot all be made (its cgroup parent's
// cgroup.max.descendants reached on the cgroup2 hierarchy, the last one made) undoes what its
// cgroups thread made in the other hierarchies, kills its init and falls back to Go, which
// says why it cannot run; the same command line runs in C again once the limit is lifted.
func TestRunInCCgroupFailureUndone(t *testing.T) {
	e := newEnv(t)
	unified := "/sys/fs/cgroup/unified"
	if _, err := os.Stat(unified + "/cgroup.procs"); err != nil {
		unified = "/sys/fs/cgroup"
	}
	fixture.Need(t, exists(unified+"/cgroup.max.descendants"), "no cgroup2 hierarchy to limit")
	parent := fmt.Sprintf("gbtest-cgfail-%d", os.Getpid())
	hierarchies, _ := filepath.Glob("/sys/fs/cgroup/*/" + parent)
	t.Cleanup(func() {
		for _, pattern := range []string{"/sys/fs/cgroup/*/" + parent + "/*", "/sys/fs/cgroup/*/" + parent, "/sys/fs/cgroup/" + parent} {
			dirs, _ := filepath.Glob(pattern)
			for _, d := range dirs {
				syscall.Rmdir(d) // cgroups only: a file in one is no directory
			}
		}
	})
	if len(hierarchies) != 0 {
		t.Fatalf("%s exists before the test", parent)
	}
	// The pin keeps the parent's cgroups, so that the runs after it keep a template.
	pin := strings.TrimSpace(e.Must("run", "-d", "--network", "none", "--cgroup-parent", "/"+parent, e.image, "sleep", "1000"))
	defer e.Must("rm", "-f", pin)
	args := []string{"--rm", "--network", "none", "--cgroup-parent", "/" + parent, e.image, "true"}
	if r, inC := e.runTraced(args...); inC || r.Code != 0 {
		t.Fatalf("the first run: %+v (in C: %v)", r, inC)
	}
	if r, inC := e.runTraced(args...); !inC || r.Code != 0 {
		t.Fatalf("the second run: %+v (in C: %v)", r, inC)
	}
	children := func() []string {
		var out []string
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + parent + "/*")
		for _, d := range dirs {
			if st, err := os.Stat(d); err == nil && st.IsDir() && !strings.HasSuffix(d, "/"+pin) {
				out = append(out, d)
			}
		}
		return out
	}
	limit := filepath.Join(unified, parent, "cgroup.max.descendants")
	if err := os.WriteFile(limit, []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, inC := e.runTraced(args...)
	if inC || r.Code != 125 || strings.Count(r.Stderr, "/"+parent+"/") != 1 {
		t.Fatalf("a run over the cgroup limit: %+v (in C: %v), want 125 from Go naming the cgroup once", r, inC)
	}
	if left := children(); len(left) != 0 {
		t.Errorf("cgroups left by the failed run: %v", left)
	}
	ents, _ := os.ReadDir(filepath.Join(e.root, "runtime"))
	for _, en := range ents {
		if n := en.Name(); n[0] != '.' && n != pin {
			t.Errorf("runtime state of %s left", n)
		}
	}
	if cs := e.ps(true); len(cs) != 1 {
		t.Errorf("%d containers after the failed run, want the pin alone", len(cs))
	}
	checkNoInit(t, e.root)
	if err := os.WriteFile(limit, []byte("max"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r, inC := e.runTraced(args...); !inC || r.Code != 0 {
		t.Fatalf("the run once the limit is lifted: %+v (in C: %v)", r, inC)
	}
}

// checkNoInit fails t when a container init of root's (`glassbox runtime-init`, holding a
// descriptor on a file under root: its exec fifo) is still there.
func checkNoInit(t *testing.T, root string) {
	t.Helper()
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		cmdline, err := os.ReadFile("/proc/" + p.Name() + "/cmdline")
		if err != nil || !bytes.Contains(cmdline, []byte("runtime-init")) {
			continue
		}
		fds, _ := os.ReadDir("/proc/" + p.Name() + "/fd")
		for _, fd := range fds {
			if target, err := os.Readlink("/proc/" + p.Name() + "/fd/" + fd.Name()); err == nil && strings.HasPrefix(target, root+"/") {
				t.Errorf("init %s left, its fd %s on %s", p.Name(), fd.Name(), target)
			}
		}
	}
}

// TestRunInCTrace: a C run's trace (`glassbox trace`) has the steps of every part of the
// start, the init's own (which its ready message times, added once the program runs) with
// the shim's, in the order they started.
func TestRunInCTrace(t *testing.T) {
	e := newEnv(t)
	e.pinParent()
	args := []string{"--network", "none", e.image, "true"}
	if r, inC := e.runTraced(args...); inC || r.Code != 0 {
		t.Fatalf("the first run: %+v (in C: %v)", r, inC)
	}
	if r, inC := e.runTraced(args...); !inC || r.Code != 0 {
		t.Fatalf("the second run: %+v (in C: %v)", r, inC)
	}
	var last engine.Container // the second run's: the pin runs on
	for _, c := range e.ps(true) {
		if c.State != "running" && c.Created.After(last.Created) {
			last = c
		}
	}
	id := last.ID
	var steps []struct {
		Step  string `json:"step"`
		Start int64  `json:"start_ns"`
		Pid   int    `json:"pid"`
	}
	if err := json.Unmarshal([]byte(e.Must("--format", "json", "trace", id)), &steps); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	pids := map[int]bool{}
	for i, s := range steps {
		seen[s.Step] = true
		pids[s.Pid] = true
		if i > 0 && s.Start < steps[i-1].Start {
			t.Errorf("step %d (%s) starts at %d, before step %d (%s) at %d", i, s.Step, s.Start, i-1, steps[i-1].Step, steps[i-1].Start)
		}
	}
	for _, want := range []string{"runcache", "clone", "cgroup", "join", "unshare", "mount", "pivot_root", "seccomp", "capabilities", "lookup", "start", "execve"} {
		if !seen[want] {
			t.Errorf("the C run's trace has no %s step (%d steps)", want, len(steps))
		}
	}
	if len(pids) < 2 {
		t.Errorf("the trace names %d processes, want the shim's and the init's", len(pids))
	}
}
