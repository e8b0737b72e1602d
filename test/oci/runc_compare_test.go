package oci

import (
	"bufio"
	"encoding/json"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestStateMatchesRunc: `state` prints runc's fields in runc's order, with the same values
// for the same kind of container (the owner aside: runc leaves it empty, list fills it).
func TestStateMatchesRunc(t *testing.T) {
	p := newPair(t, func(s *specs.Spec) { s.Annotations = map[string]string{"org.glassbox.test": "yes"} }, "sleep", "100")
	gbOut, rcOut := p.e.Must("state", p.id), p.r.Must("state", p.id)
	if gk, rk := keyOrder(t, gbOut), keyOrder(t, rcOut); !slices.Equal(gk, rk) {
		t.Errorf("state keys %v; runc prints %v", gk, rk)
	}
	var gb, rc ociListEntry
	if err := json.Unmarshal([]byte(gbOut), &gb); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(rcOut), &rc); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"id", gb.ID, rc.ID},
		{"status", gb.Status, rc.Status},
		{"rootfs", gb.Rootfs, rc.Rootfs},
		{"annotations", gb.Annotations["org.glassbox.test"], rc.Annotations["org.glassbox.test"]},
		{"bundle", gb.Bundle, p.gbBundle},
		{"pid", gb.Pid, p.gbPid},
		{"owner", gb.Owner, "root"},
	} {
		if c.got != c.want {
			t.Errorf("state %s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if gb.Status != "created" || gb.Pid <= 0 {
		t.Errorf("state %+v: want a created container with its init's pid", gb)
	}
	if d := gb.Created.Sub(rc.Created); d < -time.Minute || d > time.Minute || gb.Created.IsZero() {
		t.Errorf("created %v, runc's container %v: want both from this minute", gb.Created, rc.Created)
	}
	// After the end of its init, runc reports pid 0; so must glassbox.
	p.e.Must("kill", p.id, "KILL")
	p.r.Must("kill", p.id, "KILL")
	gbStopped := p.e.waitStatus(p.id, specs.StateStopped)
	rcStopped := runcState(t, p.r, p.id)
	for i := 0; rcStopped.Status != specs.StateStopped && i < 500; i++ {
		time.Sleep(20 * time.Millisecond)
		rcStopped = runcState(t, p.r, p.id)
	}
	if gbStopped.Pid != rcStopped.Pid || gbStopped.Pid != 0 {
		t.Errorf("stopped: pid %d, runc %d; want 0", gbStopped.Pid, rcStopped.Pid)
	}
}

// ociListEntry is runc's state/list entry.
type ociListEntry struct {
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations"`
	Owner       string            `json:"owner"`
}

// TestUpdateMatchesRunc: the same `update` writes the same values into each container's
// cgroup files, and the errors are runc's.
func TestUpdateMatchesRunc(t *testing.T) {
	p := newPair(t, nil, "sleep", "100")
	files := []struct{ controller, file string }{
		{"memory", "memory.limit_in_bytes"}, {"memory", "memory.soft_limit_in_bytes"},
		{"cpu", "cpu.cfs_quota_us"}, {"cpu", "cpu.cfs_period_us"}, {"cpu", "cpu.shares"},
		{"pids", "pids.max"},
	}
	read := func(pid int) []string {
		var out []string
		for _, f := range files {
			out = append(out, f.file+"="+v1File(t, pid, f.controller, f.file))
		}
		return out
	}
	before := read(p.gbPid)
	devicesBefore := v1File(t, p.gbPid, "devices", "devices.list")
	steps := []struct {
		args  []string
		stdin string
	}{
		{args: []string{"--memory", "200m", "--memory-reservation", "100m", "--cpu-quota", "50000", "--cpu-period", "100000",
			"--cpu-share", "512", "--pids-limit", "50"}},
		{args: []string{"-r", "-"}, stdin: `{"memory": {"limit": 314572800}, "cpu": {"quota": 25000}, "pids": {"limit": 20},
			"devices": [{"allow": false, "access": "rwm"}]}`},
		{args: []string{"--cpu-quota", "-1", "--pids-limit", "-1"}},
	}
	for i, step := range steps {
		args := append(append([]string{"update"}, step.args...), p.id)
		gbR := p.e.RunIn(strings.NewReader(step.stdin), args...)
		rcR := p.r.RunIn(strings.NewReader(step.stdin), args...)
		if gbR.Code != 0 || rcR.Code != 0 {
			t.Fatalf("update %v: glassbox exit %d %s, runc exit %d %s", step.args, gbR.Code, gbR.Stderr, rcR.Code, rcR.Stderr)
		}
		gb, rc := read(p.gbPid), read(p.rcPid)
		if !slices.Equal(gb, rc) {
			t.Errorf("step %d, update %v:\nglassbox %v\nrunc     %v", i, step.args, gb, rc)
		}
		if i == 0 && slices.Equal(gb, before) {
			t.Errorf("update %v changed nothing: %v", step.args, gb)
		}
	}
	// As runc, update leaves the device policy alone, even when -r's JSON has devices.
	if after := v1File(t, p.gbPid, "devices", "devices.list"); after != devicesBefore {
		t.Errorf("devices.list went from %q to %q", devicesBefore, after)
	}
	for _, c := range []struct {
		what string
		args []string
		msg  string
	}{
		{"a bad size", []string{"update", "--memory", "lots", p.id}, "invalid value for memory"},
		{"no such container", []string{"update", "--memory", "1m", "no-such-" + p.id}, "container does not exist"},
		{"no container", []string{"update"}, ""},
	} {
		gbR, rcR := p.e.Run(c.args...), p.r.Run(c.args...)
		wantCode(t, "glassbox update with "+c.what, gbR, 1, c.msg)
		wantCode(t, "runc update with "+c.what, rcR, 1, c.msg)
	}
	p.e.Must("kill", p.id, "KILL")
	p.r.Must("kill", p.id, "KILL")
	p.e.waitStatus(p.id, specs.StateStopped)
	for i := 0; runcState(t, p.r, p.id).Status != specs.StateStopped && i < 500; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	wantCode(t, "glassbox update of a stopped container", p.e.Run("update", "--memory", "1m", p.id), 1, "container not running")
	wantCode(t, "runc update of a stopped container", p.r.Run("update", "--memory", "1m", p.id), 1, "container not running")
}

// TestEventsStatsMatchesRunc: `events --stats` prints one stats event in runc's layout, every
// field runc prints there too, and the numbers are the container's own cgroup's.
func TestEventsStatsMatchesRunc(t *testing.T) {
	p := newPair(t, func(s *specs.Spec) {
		limit := int64(64 << 20)
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit}
	}, "sleep", "100")
	p.e.Must("start", p.id)
	p.r.Must("start", p.id)
	p.e.waitStatus(p.id, specs.StateRunning)
	decode := func(out string) map[string]any {
		var ev map[string]any
		if err := json.Unmarshal([]byte(out), &ev); err != nil || strings.Count(strings.TrimSpace(out), "\n") != 0 {
			t.Fatalf("events --stats printed %q (%v); want one JSON line", out, err)
		}
		return ev
	}
	gb, rc := decode(p.e.Must("events", "--stats", p.id)), decode(p.r.Must("events", "--stats", p.id))
	gbKeys, rcKeys := map[string]bool{}, map[string]bool{}
	keyPaths(gb, "", gbKeys)
	keyPaths(rc, "", rcKeys)
	for k := range rcKeys {
		if !gbKeys[k] && !strings.HasPrefix(k, "data/memory/raw/") {
			t.Errorf("runc prints %s, glassbox does not", k)
		}
	}
	if gb["type"] != "stats" || gb["id"] != p.id {
		t.Errorf("event %v/%v, want stats of %s", gb["type"], gb["id"], p.id)
	}
	var s struct {
		Data struct {
			CPU struct {
				Usage struct{ Total uint64 } `json:"usage"`
			} `json:"cpu"`
			Memory struct {
				Usage struct{ Limit, Usage uint64 } `json:"usage"`
				Raw   map[string]uint64             `json:"raw"`
			} `json:"memory"`
			Pids struct{ Current uint64 } `json:"pids"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(p.e.Must("events", "--stats", p.id)), &s); err != nil {
		t.Fatal(err)
	}
	wantLimit := v1File(t, p.gbPid, "memory", "memory.limit_in_bytes")
	if strconv.FormatUint(s.Data.Memory.Usage.Limit, 10) != wantLimit || s.Data.Memory.Usage.Usage == 0 {
		t.Errorf("memory usage %+v; want the limit %s of memory.limit_in_bytes and some usage", s.Data.Memory.Usage, wantLimit)
	}
	if _, ok := s.Data.Memory.Raw["total_rss"]; !ok {
		t.Errorf("memory raw %v lacks memory.stat's total_rss", s.Data.Memory.Raw)
	}
	if s.Data.Pids.Current != 1 || s.Data.CPU.Usage.Total == 0 {
		t.Errorf("pids %d, cpu total %d: want the one sleep and some CPU time", s.Data.Pids.Current, s.Data.CPU.Usage.Total)
	}
	wantCode(t, "events with a zero interval", p.e.Run("events", "--interval", "0s", p.id), 1, "duration interval must be greater than 0")
	wantCode(t, "events of no container", p.e.Run("events", "--stats", "no-such-"+p.id), 1, "container does not exist")
}

// TestEventsStream: without --stats, events prints stats every interval and an oom event
// when the OOM killer acts in the container, as runc does; it ends when the container does.
func TestEventsStream(t *testing.T) {
	// The hog is a child of sh: the OOM killer picks it, sh goes on and exits.
	p := newPair(t, func(s *specs.Spec) {
		limit := int64(16 << 20)
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit, Swap: &limit}
	}, "sh", "-c", "sleep 1; tail /dev/zero; sleep 1")
	type stream struct {
		cmd   *exec.Cmd
		lines chan string
	}
	watch := func(cmd *exec.Cmd) stream {
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		s := stream{cmd, make(chan string, 100)}
		go func() {
			sc := bufio.NewScanner(out)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				s.lines <- sc.Text()
			}
			close(s.lines)
		}()
		return s
	}
	gb := watch(p.e.Command("events", "--interval", "300ms", p.id))
	rc := watch(p.r.Command("events", "--interval", "300ms", p.id))
	p.e.Must("start", p.id)
	p.r.Must("start", p.id)
	// count reads events until an oom has come and (if wantEnd) the stream ended.
	count := func(who string, s stream, wantEnd bool) (stats, ooms int) {
		deadline := time.After(30 * time.Second)
		for {
			select {
			case line, ok := <-s.lines:
				if !ok {
					return
				}
				var ev struct{ Type, ID string }
				if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.ID != p.id {
					t.Errorf("%s events printed %q", who, line)
				}
				switch ev.Type {
				case "stats":
					stats++
				case "oom":
					ooms++
				}
				if ooms > 0 && stats > 0 && !wantEnd {
					return
				}
			case <-deadline:
				t.Errorf("%s events: %d stats and %d oom events after 30s (the stream did not end)", who, stats, ooms)
				return
			}
		}
	}
	// runc's events goes on until the container is deleted; glassbox's ends with the container.
	rcStats, rcOOMs := count("runc", rc, false)
	gbStats, gbOOMs := count("glassbox", gb, true)
	if rcOOMs == 0 || gbOOMs == 0 || gbStats == 0 {
		t.Errorf("glassbox: %d stats, %d oom events; runc: %d stats, %d oom events; want stats and an oom from both", gbStats, gbOOMs, rcStats, rcOOMs)
	}
	if err := gb.cmd.Wait(); err != nil {
		t.Errorf("glassbox events after the container ended: %v", err)
	}
	if st := p.e.state(p.id); st.Status != specs.StateStopped {
		t.Errorf("events ended while the container is %s", st.Status)
	}
}

// TestFeaturesMatchRunc: `features` has runc's layout, the same hooks, capabilities and at
// least runc's namespaces; its mount options are valid ones (runc knows each) that this
// runtime really applies: a container with a tmpfs mounted with each of them runs.
func TestFeaturesMatchRunc(t *testing.T) {
	e, r := newEnv(t), newRunc(t)
	var gb, rc struct {
		Hooks        []string       `json:"hooks"`
		MountOptions []string       `json:"mountOptions"`
		Linux        map[string]any `json:"linux"`
	}
	gbOut, rcOut := e.Must("features"), r.Must("features")
	for _, d := range []struct {
		out string
		v   any
	}{{gbOut, &gb}, {rcOut, &rc}} {
		if err := json.Unmarshal([]byte(d.out), d.v); err != nil {
			t.Fatal(err)
		}
	}
	gbKeys, rcKeys := map[string]bool{}, map[string]bool{}
	var gbAll, rcAll any
	json.Unmarshal([]byte(gbOut), &gbAll)
	json.Unmarshal([]byte(rcOut), &rcAll)
	keyPaths(gbAll, "", gbKeys)
	keyPaths(rcAll, "", rcKeys)
	for k := range rcKeys {
		if !gbKeys[k] && !strings.HasPrefix(k, "annotations/") {
			t.Errorf("runc's features has %s, glassbox's does not", k)
		}
	}
	if !slices.Equal(gb.Hooks, rc.Hooks) {
		t.Errorf("hooks %v, runc %v", gb.Hooks, rc.Hooks)
	}
	list := func(m map[string]any, key string) []string {
		var out []string
		for _, v := range m[key].([]any) {
			out = append(out, v.(string))
		}
		slices.Sort(out)
		return out
	}
	if g, c := list(gb.Linux, "capabilities"), list(rc.Linux, "capabilities"); !slices.Equal(g, c) {
		t.Errorf("capabilities %v, runc %v", g, c)
	}
	for _, ns := range list(rc.Linux, "namespaces") {
		if !slices.Contains(list(gb.Linux, "namespaces"), ns) {
			t.Errorf("runc supports namespace %s, glassbox's features do not list it", ns)
		}
	}
	var mounts []specs.Mount
	for i, o := range gb.MountOptions {
		if !slices.Contains(rc.MountOptions, o) {
			t.Errorf("mount option %q is not one runc knows", o)
		}
		switch o {
		case "bind", "rbind", "remount": // need a source or an existing mount
			continue
		}
		mounts = append(mounts, specs.Mount{Destination: "/tmp/m" + strconv.Itoa(i), Type: "tmpfs", Source: "tmpfs", Options: []string{o}})
	}
	bundle := e.bundle(func(s *specs.Spec) { s.Mounts = append(s.Mounts, mounts...) }, "true")
	id := containerID(t)
	t.Cleanup(func() { e.Run("delete", "--force", id) })
	if res := e.Run("run", "--bundle", bundle, id); res.Code != 0 {
		t.Errorf("a container with a tmpfs per listed mount option: exit %d: %s", res.Code, res.Stderr)
	}
}
