package inspect

import (
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/glassbox/glassbox/test/fixture"
)

// pidView is the part of `glassbox inspect --pid N --format json` these tests compare.
type pidView struct {
	Security map[string]any `json:"security"`
	Mounts   []struct {
		ID         int    `json:"id"`
		Mountpoint string `json:"mountpoint"`
		FSType     string `json:"fstype"`
	} `json:"mounts"`
}

func inspectPid(t *testing.T, pid int) pidView {
	t.Helper()
	var v []pidView
	decode(t, gb(t, "inspect", "--pid", strconv.Itoa(pid), "--format", "json"), &v)
	if len(v) != 1 {
		t.Fatalf("inspect --pid %d: %d views", pid, len(v))
	}
	return v[0]
}

// childOf waits for the single child of pid (the program setpriv or unshare ran).
func childOf(t *testing.T, pid int) int {
	t.Helper()
	var child int
	waitFor(t, fmt.Sprintf("the child of %d", pid), func() bool {
		c := children(pid)
		if len(c) == 1 {
			child = c[0]
			return true
		}
		return false
	})
	return child
}

// TestSecurityAgreesWithStatus: a process with a bounding set of two capabilities; glassbox's
// decoded sets must carry /proc/PID/status's masks and exactly the names of those bits.
func TestSecurityAgreesWithStatus(t *testing.T) {
	fixture.NeedRoot(t)
	fixture.NeedBinary(t, "setpriv")
	cmd := start(t, "setpriv", "--bounding-set", "-all,+chown,+kill", "--inh-caps", "-all", "sleep", "300")
	pid := cmd.Process.Pid // setpriv execs sleep in place
	waitFor(t, "setpriv to exec sleep", func() bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		return strings.TrimSpace(string(b)) == "sleep"
	})
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(string(status), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	sec := inspectPid(t, pid).Security
	for key, field := range map[string]string{"inheritable": "CapInh", "permitted": "CapPrm",
		"effective": "CapEff", "bounding": "CapBnd", "ambient": "CapAmb"} {
		set, _ := sec[key].(map[string]any)
		if set == nil {
			t.Errorf("no %s set in %v", key, sec)
			continue
		}
		if set["mask"] != fields[field] {
			t.Errorf("%s mask %v, /proc says %s %s", key, set["mask"], field, fields[field])
		}
		var names []string
		for _, n := range set["names"].([]any) {
			names = append(names, n.(string))
		}
		slices.Sort(names)
		want := []string{}
		if key == "bounding" || key == "permitted" || key == "effective" {
			want = []string{"CAP_CHOWN", "CAP_KILL"}
		}
		if !slices.Equal(names, want) && !(len(names) == 0 && len(want) == 0) {
			t.Errorf("%s names %v, want %v", key, names, want)
		}
	}
}

// TestMountsAgreeWithFindmnt: in a private mount namespace with a tmpfs of its own, glassbox's
// mount list of the process has findmnt's mount IDs, targets and types, in the same order.
func TestMountsAgreeWithFindmnt(t *testing.T) {
	fixture.NeedRoot(t)
	fixture.NeedBinary(t, "findmnt")
	dir := t.TempDir()
	cmd := start(t, "unshare", "--mount", "--propagation", "private", "--fork", "sh", "-c",
		"mount -t tmpfs glassbox-inspect-test "+dir+" && exec sleep 300")
	pid := childOf(t, cmd.Process.Pid)
	waitFor(t, "the tmpfs to be mounted", func() bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		return strings.TrimSpace(string(b)) == "sleep"
	})
	type fmEntry struct {
		ID     int    `json:"id"`
		Target string `json:"target"`
		FSType string `json:"fstype"`
	}
	findmnt := func() []fmEntry {
		out, err := exec.Command("findmnt", "-J", "--list", "--task", strconv.Itoa(pid), "-o", "ID,TARGET,FSTYPE").Output()
		if err != nil {
			t.Fatalf("findmnt: %v", err)
		}
		var fm struct {
			Filesystems []fmEntry `json:"filesystems"`
		}
		decode(t, out, &fm)
		return fm.Filesystems
	}
	// The namespace is a private copy of the host's, but a host directory removed under one of
	// its mounts (another package's container rootfs) detaches that mount in every namespace
	// (rmdir of a mount point, since Linux 3.18): compare a reading that two findmnt readings
	// around it agree on.
	var fm []fmEntry
	var view pidView
	for try := 0; ; try++ {
		before := findmnt()
		view = inspectPid(t, pid)
		fm = findmnt()
		if reflect.DeepEqual(before, fm) || try == 9 {
			break
		}
	}
	ours := view.Mounts
	if len(ours) != len(fm) {
		t.Fatalf("glassbox lists %d mounts, findmnt %d", len(ours), len(fm))
	}
	sawTmpfs := false
	for i, m := range ours {
		f := fm[i]
		if m.ID != f.ID || m.Mountpoint != f.Target || m.FSType != f.FSType {
			t.Errorf("mount %d: glassbox %d %s %s, findmnt %d %s %s", i, m.ID, m.Mountpoint, m.FSType, f.ID, f.Target, f.FSType)
		}
		sawTmpfs = sawTmpfs || (m.Mountpoint == dir && m.FSType == "tmpfs")
	}
	if !sawTmpfs {
		t.Errorf("the test's tmpfs on %s is not in glassbox's list", dir)
	}
}
