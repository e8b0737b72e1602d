package inspect

import (
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/glassbox/glassbox/test/fixture"
)

type lsnsEntry struct {
	NS     uint64 `json:"ns"`
	Type   string `json:"type"`
	NProcs int    `json:"nprocs"`
	PID    int    `json:"pid"`
}

type nsMapJSON struct {
	Namespaces []struct {
		lsnsEntry
		Host      bool  `json:"host"`
		PIDs      []int `json:"pids"`
		Parent    uint64
		Container *struct {
			Runtime string `json:"runtime"`
		} `json:"container"`
	} `json:"namespaces"`
}

func lsns(t *testing.T) map[string]lsnsEntry {
	t.Helper()
	// lsns itself fails now and then on a busy machine (a process that exits while it reads
	// /proc: other test packages start and end containers meanwhile): a few tries.
	var out []byte
	var err error
	for try := 0; try < 5; try++ {
		if out, err = exec.Command("lsns", "-J", "--list").Output(); err == nil {
			break
		}
	}
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("lsns -J --list: %v (%s)", err, stderr)
	}
	var v struct {
		Namespaces []lsnsEntry `json:"namespaces"`
	}
	decode(t, out, &v)
	m := map[string]lsnsEntry{}
	for _, e := range v.Namespaces {
		m[fmt.Sprint(e.Type, e.NS)] = lsnsEntry{NS: e.NS, Type: e.Type, NProcs: e.NProcs}
	}
	return m
}

func glassboxNS(t *testing.T) (map[string]lsnsEntry, nsMapJSON) {
	t.Helper()
	var v nsMapJSON
	decode(t, gb(t, "ns", "--format", "json"), &v)
	m := map[string]lsnsEntry{}
	for _, e := range v.Namespaces {
		m[fmt.Sprint(e.Type, e.NS)] = lsnsEntry{NS: e.NS, Type: e.Type, NProcs: e.NProcs}
	}
	return m, v
}

// TestNsAgreesWithLsns compares `glassbox ns --format json` with `lsns -J`: exactly, on the
// namespaces this test made (an unshared shell with two children: 3 processes in the new PID
// namespace, 4 with unshare itself in the others); and on every namespace of the machine
// whenever lsns gives the same answer twice around glassbox's (other people's processes come
// and go on a shared machine, so a moving snapshot is retried).
func TestNsAgreesWithLsns(t *testing.T) {
	fixture.NeedRoot(t)
	fixture.NeedBinary(t, "lsns")
	fixture.NeedBinary(t, "unshare")
	_, sh := unshared(t, "sleep 300 & sleep 300 & wait", 2)

	want := map[string]int{"pid": 3, "mnt": 4, "uts": 4, "ipc": 4, "net": 4}
	ours, v := glassboxNS(t)
	for typ, n := range want {
		ino := nsInode(t, sh, typ)
		got, ok := ours[fmt.Sprint(typ, ino)]
		if !ok || got.NProcs != n {
			t.Errorf("%s namespace %d: glassbox says %+v (present %v), want %d processes", typ, ino, got, ok, n)
		}
	}
	for _, e := range v.Namespaces {
		if e.Type == "pid" && e.NS == nsInode(t, sh, "pid") {
			if host := hostPidNS(t); e.Parent != host {
				t.Errorf("parent of the new pid namespace = %d, want the host's", e.Parent)
			}
			if e.Container == nil || e.Container.Runtime != "unshare" {
				t.Errorf("new pid namespace labelled %+v, want unshare", e.Container)
			}
			if e.Host || len(e.PIDs) != 3 {
				t.Errorf("new pid namespace: host %v pids %v", e.Host, e.PIDs)
			}
		}
	}

	// A process can also come and go while glassbox reads, between two identical lsns
	// readings (other test packages start containers and execs meanwhile): a difference counts
	// only if it is there on every stable try, and at least two; a systematic error in
	// glassbox is (a single stable try on a busy machine once caught a process exec'ing).
	var diffs []string
	stable := 0
	for attempt := 1; attempt <= 20; attempt++ {
		before := lsns(t)
		ours, _ := glassboxNS(t)
		after := lsns(t)
		if !reflect.DeepEqual(before, after) {
			continue
		}
		stable++
		diffs = nil
		for k, e := range after {
			if ours[k] != e {
				diffs = append(diffs, fmt.Sprintf("lsns: %+v; glassbox: %+v", e, ours[k]))
			}
		}
		for k, e := range ours {
			if _, ok := after[k]; !ok {
				diffs = append(diffs, fmt.Sprintf("glassbox lists %+v, lsns does not", e))
			}
		}
		if len(diffs) == 0 {
			t.Logf("whole machine agrees on try %d: %d namespaces", attempt, len(after))
			break
		}
	}
	switch {
	case stable < 2 && len(diffs) > 0:
		t.Logf("the machine's namespaces kept changing over 20 tries (%d stable); compared only this test's:\n%s", stable, strings.Join(diffs, "\n"))
	case stable == 0:
		t.Logf("the machine's namespaces kept changing over 20 tries; compared only this test's")
	case len(diffs) > 0:
		t.Errorf("glassbox ns and lsns differ on all %d stable tries; the last:\n%s", stable, strings.Join(diffs, "\n"))
	}
	// Make sure the comparisons above compared something of ours.
	for typ := range want {
		if _, ok := lsns(t)[fmt.Sprint(typ, nsInode(t, sh, typ))]; !ok {
			t.Errorf("lsns does not list the test's %s namespace", typ)
		}
	}
}

type procNode struct {
	PID       int        `json:"pid"`
	PIDInside int        `json:"pidInside"`
	NSpid     []int      `json:"nspid"`
	Cmdline   []string   `json:"cmdline"`
	Children  []procNode `json:"children"`
}

func flatten(ns []procNode, out map[int]procNode) {
	for _, n := range ns {
		out[n.PID] = n
		flatten(n.Children, out)
	}
}

// TestProcessTreeAgreesWithPs: `ns --pid N --tree` lists the processes of N's PID namespace
// that ps lists with the same pidns, and their PIDs inside are those ps shows when run inside
// the namespace (nsenter, with the namespace's own /proc).
func TestProcessTreeAgreesWithPs(t *testing.T) {
	fixture.NeedRoot(t)
	fixture.NeedBinary(t, "ps")
	fixture.NeedBinary(t, "nsenter")
	_, sh := unshared(t, "sleep 301 & (sleep 302 & wait) & wait", 2)
	waitFor(t, "the nested sleep", func() bool { return len(children(sh)) == 2 && len(children(children(sh)[1])) == 1 })

	var v struct {
		Processes []procNode `json:"processes"`
	}
	decode(t, gb(t, "ns", "--pid", strconv.Itoa(sh), "--tree", "--format", "json"), &v)
	got := map[int]procNode{}
	flatten(v.Processes, got)
	if len(v.Processes) != 1 || v.Processes[0].PID != sh || v.Processes[0].PIDInside != 1 {
		t.Errorf("root of the tree = %+v, want the shell %d as PID 1", v.Processes, sh)
	}

	out, err := exec.Command("ps", "-e", "-o", "pid=,pidns=").Output()
	if err != nil {
		t.Fatal(err)
	}
	pidns := strconv.FormatUint(nsInode(t, sh, "pid"), 10)
	var hostPids []int
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[1] == pidns {
			n, _ := strconv.Atoi(f[0])
			hostPids = append(hostPids, n)
		}
	}
	var gotPids []int
	for p := range got {
		gotPids = append(gotPids, p)
	}
	sort.Ints(gotPids)
	if !reflect.DeepEqual(gotPids, hostPids) || len(gotPids) != 4 {
		t.Errorf("host PIDs: glassbox %v, ps %v (want 4: sh, sleep, subshell, sleep)", gotPids, hostPids)
	}

	out, err = exec.Command("nsenter", "-t", strconv.Itoa(sh), "-p", "-m", "ps", "-e", "-o", "pid=,args=").Output()
	if err != nil {
		t.Fatalf("ps inside: %v", err)
	}
	inside := map[int]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		n, _ := strconv.Atoi(f[0])
		inside[n] = strings.Join(f[1:], " ")
	}
	for _, p := range got {
		args, ok := inside[p.PIDInside]
		if !ok || args != strings.Join(p.Cmdline, " ") {
			t.Errorf("host PID %d is %d inside running %q; ps inside shows %d as %q", p.PID, p.PIDInside, p.Cmdline, p.PIDInside, args)
		}
		if p.NSpid[len(p.NSpid)-1] != p.PIDInside || p.NSpid[0] != p.PID {
			t.Errorf("NSpid %v for host %d inside %d", p.NSpid, p.PID, p.PIDInside)
		}
	}
}

// hostPidNS is the host's PID namespace: PID 1's, or kthreadd's where PID 1's links refuse to be
// read (as in some sandboxes, even to root).
func hostPidNS(t *testing.T) uint64 {
	t.Helper()
	for _, pid := range []string{"1", "2"} {
		if link, err := os.Readlink("/proc/" + pid + "/ns/pid"); err == nil {
			_, rest, _ := strings.Cut(link, "[")
			v, err := strconv.ParseUint(strings.TrimSuffix(rest, "]"), 10, 64)
			if err == nil {
				return v
			}
		}
	}
	t.Fatal("cannot read the host's pid namespace from PID 1 or 2")
	return 0
}
