package lifecycle

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// run spawns the shim before its create; a create that fails after the spawn must leave no
// shim behind (the shim hears the control connection close and exits).
func TestFailedCreateLeavesNoShim(t *testing.T) {
	e := newEnv(t)
	before := shimsOf(e.root)
	bad := filepath.Join(t.TempDir(), "missing")
	for _, args := range [][]string{
		{"run", "--rm", "-v", bad + ":/x", e.image, "true"},
		{"run", "-d", "--security-opt", "seccomp=" + bad, e.image, "true"},
	} {
		if r := e.Run(args...); r.Code != 125 || !strings.Contains(r.Stderr, bad) {
			t.Errorf("glassbox %q: %+v, want exit 125 naming %s", args, r, bad)
		}
	}
	waitFor(t, "the abandoned shims to exit", func() bool { return len(shimsOf(e.root)) == len(before) })
	if cs := e.ps(true); len(cs) != 0 {
		t.Errorf("failed creates left %d containers", len(cs))
	}
}

// The cgroup paths and OOM verdict of a container are read while its init is alive: a program
// as short as true must not be recorded in the root cgroup.
func TestShortContainerKeepsItsCgroupPaths(t *testing.T) {
	e := newEnv(t)
	n := name(t)
	e.Must("run", "--name", n, e.image, "true")
	d := e.inspect(n)
	if d.State.ExitCode != 0 || d.State.Running || d.State.OOMKilled {
		t.Fatalf("state %+v", d.State)
	}
	if len(d.CgroupPaths) == 0 {
		t.Fatal("no cgroup paths recorded")
	}
	checked := 0
	for _, ctrl := range []string{"memory", "pids", "unified"} { // hierarchies glassbox makes a cgroup in
		if p, ok := d.CgroupPaths[ctrl]; ok {
			checked++
			if !strings.Contains(p, d.ID) {
				t.Errorf("cgroup %s recorded as %s, not the container's own", ctrl, p)
			}
		}
	}
	if checked == 0 {
		t.Errorf("no memory, pids or unified cgroup among %v", d.CgroupPaths)
	}
}

// run --rm returns once the container is gone; wait on a --rm container returns its code
// though the record is gone when the exit comes.
func TestRemoveBeforeExitStatus(t *testing.T) {
	e := newEnv(t)
	n := name(t)
	if r := e.Run("run", "--rm", "--name", n, e.image, "sh", "-c", "echo out; exit 5"); r.Code != 5 || r.Stdout != "out\n" {
		t.Fatalf("run --rm: %+v", r)
	}
	if r := e.Run("inspect", n); r.Code == 0 {
		t.Fatalf("run --rm returned before the removal: %s", r.Stdout)
	}
	id := e.Must("run", "-d", "--rm", e.image, "sh", "-c", "sleep 1; exit 4")
	d := e.inspect(id)
	if r := e.Run("wait", id); r.Code != 0 || strings.TrimSpace(r.Stdout) != "4" {
		t.Fatalf("wait on a --rm container: %+v", r)
	}
	// The exit is told once the container is gone: no cgroup, no mount, no record.
	for ctrl, p := range d.CgroupPaths {
		if strings.Contains(p, id) && exists(p) {
			t.Errorf("cgroup %s (%s) still there when the exit was told", p, ctrl)
		}
	}
	if mounted(d.GraphDriver.Data.MergedDir) {
		t.Errorf("rootfs %s still mounted when the exit was told", d.GraphDriver.Data.MergedDir)
	}
	if r := e.Run("inspect", id); r.Code == 0 {
		t.Errorf("record still there when the exit was told")
	}
	waitFor(t, "the --rm container's removal", func() bool { return e.Run("inspect", id).Code != 0 })
}

// shimsOf lists the pids of glassbox shims serving root.
func shimsOf(root string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if len(args) > 3 && args[1] == "shim" && args[3] == root {
			pids = append(pids, pid)
		}
	}
	return pids
}

// A removal cut off between taking the container out and deleting its files leaves them in
// ROOT/trash: gc deletes them (not those of a removal still under way).
func TestGCEmptiesTrash(t *testing.T) {
	e := newEnv(t)
	e.Must("ps") // makes the store's directories
	old := filepath.Join(e.root, "trash", strings.Repeat("a", 64))
	fresh := filepath.Join(e.root, "trash", strings.Repeat("b", 64))
	for _, d := range []string{old, fresh} {
		if err := os.MkdirAll(filepath.Join(d, "upper", "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.checkGCTakesOld(old, fresh, strings.Repeat("a", 12))
}

// checkGCTakesOld ages old by a minute and runs gc, which must remove it and name it (by
// short), and leave fresh (a removal or create that may be under way).
func (e *env) checkGCTakesOld(old, fresh, short string) {
	e.t.Helper()
	past := time.Now().Add(-time.Minute)
	os.Chtimes(old, past, past)
	out := e.Must("gc")
	if exists(old) || !strings.Contains(out, short) {
		e.t.Errorf("gc left %s or did not say so: %q", old, out)
	}
	if !exists(fresh) {
		e.t.Errorf("gc deleted %s, which may be in use", fresh)
	}
}

// TestGCRemovesStaleExecFifos: a C run makes its exec fifo beside the runtime's state
// directory (ROOT/runtime/.ID.fifo) and moves it in after the init's clone; a run killed
// between the two leaves it, which gc removes once it is old, and not before.
func TestGCRemovesStaleExecFifos(t *testing.T) {
	e := newEnv(t)
	e.Must("ps")
	dir := filepath.Join(e.root, "runtime")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, "."+strings.Repeat("c", 64)+".fifo")
	fresh := filepath.Join(dir, "."+strings.Repeat("d", 64)+".fifo")
	for _, f := range []string{old, fresh} {
		if err := syscall.Mkfifo(f, 0o622); err != nil {
			t.Fatal(err)
		}
	}
	e.checkGCTakesOld(old, fresh, strings.Repeat("c", 12))
}

// A created --rm container's rootfs is a volatile overlay; once it is unmounted (a reboot, or
// a umount by hand), overlayfs refuses that upper directory again (its work/incompat/volatile
// marker stays after a clean umount too). The start mounts it anew all the same.
func TestStartRemountsVolatileRootfs(t *testing.T) {
	e := newEnv(t)
	n := name(t)
	e.Must("create", "--rm", "--name", n, e.image, "sh", "-c", "exit 6")
	d := e.inspect(n)
	if !mounted(d.GraphDriver.Data.MergedDir) {
		t.Fatalf("created but not mounted: %s", d.GraphDriver.Data.MergedDir)
	}
	if err := syscall.Unmount(d.GraphDriver.Data.MergedDir, 0); err != nil {
		t.Fatal(err)
	}
	if r := e.Run("start", "-a", n); r.Code != 6 {
		t.Fatalf("start -a of the unmounted --rm container: %+v", r)
	}
	waitFor(t, "the --rm container's removal", func() bool { return e.Run("inspect", n).Code != 0 })
}
