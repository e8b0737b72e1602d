package lifecycle

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glassbox/glassbox/test/fixture"
)

// A container over its memory limit is OOM-killed: exit 137, OOMKilled in inspect, and the
// limit is the real file in its memory cgroup while it runs.
func TestOOMReported(t *testing.T) {
	e := newEnv(t)
	n := name(t)
	e.Must("run", "-d", "--name", n, "-m", "16m", "--memory-swap", "16m", e.image, "sh", "-c",
		"read x; a=aaaaaaaaaaaaaaaa; while true; do a=$a$a; done")
	d := e.inspect(n)
	mem := d.CgroupPaths["memory"]
	if mem == "" {
		mem = d.CgroupPaths["unified"]
	}
	if !strings.Contains(mem, d.ID) {
		t.Fatalf("memory cgroup %q does not name the container", mem)
	}
	limit, err1 := os.ReadFile(filepath.Join(mem, "memory.limit_in_bytes"))
	if err1 != nil {
		limit, _ = os.ReadFile(filepath.Join(mem, "memory.max"))
	}
	if strings.TrimSpace(string(limit)) != "16777216" {
		t.Fatalf("memory limit file says %q", limit)
	}
	r := e.RunIn(strings.NewReader("go\n"), "attach", n)
	if r.Code != 137 {
		t.Fatalf("attach after OOM: %+v", r)
	}
	d = e.inspect(n)
	if !d.State.OOMKilled || d.State.ExitCode != 137 {
		t.Fatalf("inspect after OOM: %+v", d.State)
	}
}

// Spec flags reach the kernel: user from the image's passwd, workdir, env, hostname, a
// read-only rootfs with a tmpfs, a bind mount, dropped capabilities.
func TestRunFlagsReachTheContainer(t *testing.T) {
	e := newEnv(t)
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "f"), []byte("from-host"), 0o644)
	out := e.Must("run", "--rm", "-u", "nobody", "-w", "/tmp", "-e", "A=b", "--hostname", "box",
		"--read-only", "--tmpfs", "/scratch", "-v", host+":/data:ro", "--cap-drop", "ALL", e.image,
		"sh", "-c", "id -u; pwd; echo $A; hostname; cat /data/f; echo; touch /x 2>/dev/null || echo ro; touch /scratch/y && echo tmpfs; grep CapEff /proc/self/status")
	want := []string{"65534", "/tmp", "b", "box", "from-host", "ro", "tmpfs", "CapEff:\t0000000000000000"}
	got := strings.Split(strings.TrimSpace(out), "\n")
	if len(got) != len(want) {
		t.Fatalf("output %q", out)
	}
	for i := range want {
		if strings.TrimSpace(got[i]) != strings.TrimSpace(want[i]) {
			t.Errorf("line %d = %q, want %q", i, got[i], want[i])
		}
	}
}

// Many containers started and removed leave no mount, cgroup, process or directory behind.
func TestManyContainersLeaveNothing(t *testing.T) {
	e := newEnv(t)
	const n = 20
	var ids []string
	for i := 0; i < n; i++ {
		ids = append(ids, e.Must("run", "-d", e.image, "sleep", "1000"))
	}
	var cgroups []string
	var pids []int
	for _, id := range ids {
		d := e.inspect(id)
		pids = append(pids, d.State.Pid, d.ShimPid)
		for _, p := range d.CgroupPaths {
			if strings.Contains(p, id) {
				cgroups = append(cgroups, p)
			}
		}
	}
	if len(cgroups) < n {
		t.Fatalf("only %d container cgroups found", len(cgroups))
	}
	e.Must(append([]string{"rm", "-f"}, ids...)...)
	for _, p := range cgroups {
		if exists(p) {
			t.Errorf("cgroup left: %s", p)
		}
	}
	for _, pid := range pids {
		waitFor(t, "process gone", func() bool { return !alive(pid) || isZombie(pid) })
	}
	ents, _ := os.ReadDir(filepath.Join(e.root, "containers"))
	if len(ents) != 0 {
		t.Errorf("%d container directories left", len(ents))
	}
}

func isZombie(pid int) bool {
	data, err := os.ReadFile("/proc/" + itoa(pid) + "/stat")
	return err == nil && strings.Contains(string(data), ") Z ")
}

// --userns remap: root in the container is an unprivileged host uid, per its uid_map.
func TestUsernsRemap(t *testing.T) {
	e := newEnv(t)
	n := name(t)
	// The remapped root must be able to reach the rootfs: t.TempDir's directories are 0700.
	for d := e.root; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o711)
	}
	e.Must("run", "-d", "--name", n, "--userns", "remap", e.image, "sleep", "1000")
	d := e.inspect(n)
	status, err := os.ReadFile("/proc/" + itoa(d.State.Pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	var uidLine string
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "Uid:") {
			uidLine = l
		}
	}
	if f := strings.Fields(uidLine); len(f) < 2 || f[1] == "0" {
		t.Fatalf("container root is host root: %q", uidLine)
	}
	uidMap, _ := os.ReadFile("/proc/" + itoa(d.State.Pid) + "/uid_map")
	if f := strings.Fields(string(uidMap)); len(f) != 3 || f[0] != "0" || f[1] == "0" {
		t.Fatalf("uid_map %q", uidMap)
	}
}

// logs --tail, --since and stream separation, and -f following a running container to its end.
func TestLogsOptions(t *testing.T) {
	e := newEnv(t)
	n := name(t)
	e.Must("run", "--name", n, e.image, "sh", "-c", "echo 1; echo 2; echo 3")
	if r := e.Run("logs", "--tail", "2", n); r.Stdout != "2\n3\n" || r.Stderr != "" {
		t.Fatalf("logs --tail 2: %+v", r)
	}
	// (Order between stdout and stderr is not kept: they are two pipes, as in docker.)
	e.Must("run", "--name", n+"e", e.image, "sh", "-c", "echo err >&2")
	if r := e.Run("logs", n+"e"); r.Stdout != "" || r.Stderr != "err\n" {
		t.Fatalf("logs of stderr: %+v", r)
	}
	if r := e.Run("logs", "--since", "2099-01-01T00:00:00Z", n); r.Stdout != "" || r.Stderr != "" {
		t.Fatalf("logs --since the future: %+v", r)
	}
	if r := e.Run("logs", "-t", n); !strings.Contains(r.Stdout, "Z 1\n") {
		t.Fatalf("logs -t: %+v", r)
	}
	f := name(t) + "f"
	e.Must("run", "-d", "-i", "--name", f, e.image, "sh", "-c", "read x; echo after-$x")
	done := make(chan fixture.Result, 1)
	go func() { done <- e.Run("logs", "-f", f) }()
	e.RunIn(strings.NewReader("go\n"), "attach", f)
	if r := <-done; r.Stdout != "after-go\n" {
		t.Fatalf("logs -f: %+v", r)
	}
}
