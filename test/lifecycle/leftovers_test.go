package lifecycle

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// leftovers lists what the containers ids of root left on the machine: mounts under root,
// their cgroups, processes in those cgroups and shims of root, container, runtime and trash
// directories, any process's fd on a file under root, and the host veths named.
func leftovers(root string, ids, veths []string) []string {
	var left []string
	mountinfo, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(mountinfo), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], root+"/") {
			left = append(left, "mount "+f[4])
		}
	}
	for _, id := range ids {
		for _, cg := range containerCgroups(id) {
			left = append(left, "cgroup "+cg)
		}
		if exists(filepath.Join(root, "runtime", id)) {
			left = append(left, "runtime state of "+id[:12])
		}
	}
	for _, dir := range []string{"containers", "trash"} {
		ents, _ := os.ReadDir(filepath.Join(root, dir))
		for _, e := range ents {
			left = append(left, dir+"/"+e.Name()+inside(filepath.Join(root, dir, e.Name())))
		}
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid := p.Name()
		if pid[0] < '0' || pid[0] > '9' || pid == itoa(os.Getpid()) {
			continue
		}
		if stat, err := os.ReadFile("/proc/" + pid + "/stat"); err != nil || strings.Contains(string(stat), ") Z ") {
			continue
		}
		cgroup, _ := os.ReadFile("/proc/" + pid + "/cgroup")
		for _, id := range ids {
			if strings.Contains(string(cgroup), id) {
				left = append(left, "process "+pid+" in the cgroup of "+id[:12])
			}
		}
		if cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline"); strings.Contains(string(cmdline), "shim\x00--root\x00"+root+"\x00") {
			left = append(left, "shim "+pid)
		}
		fds, _ := os.ReadDir("/proc/" + pid + "/fd")
		for _, fd := range fds {
			if target, err := os.Readlink("/proc/" + pid + "/fd/" + fd.Name()); err == nil && strings.HasPrefix(target, root+"/") {
				left = append(left, "fd "+fd.Name()+" of process "+pid+" on "+target)
			}
		}
	}
	for _, v := range veths {
		if exists("/sys/class/net/" + v) {
			left = append(left, "veth "+v)
		}
	}
	return left
}

// checkNothingLeft fails t with what the containers ids left once the shims had the time to
// finish (a run --rm returns before its shim has deleted the trash: no timing is asserted).
func checkNothingLeft(t *testing.T, root string, ids, veths []string) {
	t.Helper()
	var left []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if left = leftovers(root, ids, veths); len(left) == 0 {
			return
		}
	}
	if len(left) > 20 {
		left = append(left[:20], "...")
	}
	t.Errorf("left behind:\n  %s", strings.Join(left, "\n  "))
}

// inside names a few of the files left in dir, to tell what a removal did not get to.
func inside(dir string) string {
	var names []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if p != dir && len(names) < 8 {
			rel, _ := filepath.Rel(dir, p)
			names = append(names, rel)
		}
		return nil
	})
	if len(names) == 0 {
		return " (empty)"
	}
	return " (" + strings.Join(names, ", ") + ")"
}
