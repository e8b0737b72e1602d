package lifecycle

import (
	"encoding/json"
	"fmt"
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
	e.Must("run", "-d", "-i", "--name", n, "-m", "16m", "--memory-swap", "16m", e.image, "sh", "-c",
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
	// A working directory the image lacks is made at create, as docker's daemon does: the
	// runtime's own mkdir at start meets the read-only rootfs (EROFS).
	if out := e.Must("run", "--rm", "--read-only", "-w", "/no/such/dir", e.image, "pwd"); strings.TrimSpace(out) != "/no/such/dir" {
		t.Errorf("run --read-only -w /no/such/dir: pwd %q", out)
	}
}

// 50 containers started and removed leave nothing behind: no mount, cgroup, veth, fd,
// process or directory. 20 are run --rm in the foreground, 15 run -d --rm and killed (their
// shims remove them), 15 run -d and removed with rm -f.
func TestManyContainersLeaveNothing(t *testing.T) {
	e := newEnv(t)
	const foreground, detachedRm, forced = 20, 15, 15
	var hostIfindexes []string // the host ends of the foreground containers' veths
	for i := 0; i < foreground; i++ {
		out := e.Must("run", "--rm", e.image, "cat", "/sys/class/net/eth0/iflink")
		hostIfindexes = append(hostIfindexes, strings.TrimSpace(out))
	}
	var rmIDs, forcedIDs, veths []string
	for i := 0; i < detachedRm+forced; i++ {
		args := []string{"run", "-d", e.image, "sleep", "1000"}
		if i < detachedRm {
			args = []string{"run", "-d", "--rm", e.image, "sleep", "1000"}
		}
		id := e.Must(args...)
		if d := e.inspect(id); !d.State.Running || d.NetworkSettings.HostVeth == "" || len(d.CgroupPaths) == 0 {
			t.Fatalf("container %d is not running with a veth and cgroups: %+v", i, d)
		} else {
			veths = append(veths, d.NetworkSettings.HostVeth)
		}
		if i < detachedRm {
			rmIDs = append(rmIDs, id)
		} else {
			forcedIDs = append(forcedIDs, id)
		}
	}
	e.Must(append([]string{"kill"}, rmIDs...)...)
	e.Must(append([]string{"rm", "-f"}, forcedIDs...)...)
	ids := eventIDs(t, e.root)
	if len(ids) != foreground+detachedRm+forced {
		t.Fatalf("%d containers in the events, want %d", len(ids), foreground+detachedRm+forced)
	}
	checkNothingLeft(t, e.root, ids, veths)
	links, _ := os.ReadDir("/sys/class/net")
	for _, l := range links {
		index, _ := os.ReadFile(filepath.Join("/sys/class/net", l.Name(), "ifindex"))
		for _, want := range hostIfindexes {
			if strings.HasPrefix(l.Name(), "gb") && strings.TrimSpace(string(index)) == want {
				t.Errorf("veth %s (ifindex %s) of a run --rm container left", l.Name(), want)
			}
		}
	}
	if cs := e.ps(true); len(cs) != 0 {
		t.Errorf("%d containers left in ps -a", len(cs))
	}
}

// eventIDs lists the containers created in root, from its events.
func eventIDs(t *testing.T, root string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "events.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, line := range strings.Split(string(data), "\n") {
		var ev struct{ Action, ID string }
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Action == "create" {
			ids = append(ids, ev.ID)
		}
	}
	return ids
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

// TestPrivilegedGetsWhatGlassboxHolds: --privileged gives the container every capability
// glassbox itself holds, as docker's does (its bounding set: this machine's lacks
// CAP_SYS_RESOURCE, and asking capset(2) for more failed the start); naming one it does not
// hold is refused before anything is made.
func TestPrivilegedGetsWhatGlassboxHolds(t *testing.T) {
	e := newEnv(t)
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	var bounding string
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "CapBnd:"); ok {
			bounding = strings.TrimSpace(v)
		}
	}
	r := e.Run("run", "--rm", "--privileged", e.image, "grep", "CapEff", "/proc/self/status")
	if r.Code != 0 {
		t.Fatalf("run --privileged: exit %d: %s", r.Code, r.Stderr)
	}
	if got := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(r.Stdout), "CapEff:")); got != bounding {
		t.Errorf("--privileged CapEff %s, want glassbox's bounding set %s", got, bounding)
	}
	if bounding == "000001ffffffffff" {
		return // every capability held: nothing to refuse
	}
	missing := missingCap(t, bounding)
	if missing == "" {
		t.Logf("the bounding set %s lacks only capabilities this test does not name", bounding)
		return
	}
	before := e.ps(true)
	r = e.Run("run", "--rm", "--cap-add", missing, e.image, "true")
	if r.Code != 125 || !strings.Contains(r.Stderr, "does not hold it") {
		t.Errorf("--cap-add of a capability glassbox lacks: exit %d: %s", r.Code, r.Stderr)
	}
	if after := e.ps(true); len(after) != len(before) {
		t.Errorf("the refused run left a container: %d before, %d after", len(before), len(after))
	}
}

// missingCap names a capability absent from the hex bounding set, of a few likely ones.
func missingCap(t *testing.T, bounding string) string {
	names := map[int]string{24: "SYS_RESOURCE", 21: "SYS_ADMIN", 38: "PERFMON", 39: "BPF", 40: "CHECKPOINT_RESTORE"}
	var set uint64
	if _, err := fmt.Sscanf(bounding, "%x", &set); err != nil {
		t.Fatal(err)
	}
	for bit, name := range names {
		if set&(1<<bit) == 0 {
			return name
		}
	}
	return ""
}
