package nsenter

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/sys/mountinfo"
)

// cgroupLine is one line of /proc/PID/cgroup: "4:memory:/a/b", "0::/a/b" (cgroups(7)).
type cgroupLine struct {
	id          string
	controllers string
	path        string
}

func (l cgroupLine) hierarchy() string { return l.id + ":" + l.controllers }

func parseCgroupFile(data []byte) ([]cgroupLine, error) {
	var lines []cgroupLine
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if sc.Text() == "" {
			continue
		}
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("malformed cgroup line %q", sc.Text())
		}
		lines = append(lines, cgroupLine{parts[0], parts[1], parts[2]})
	}
	return lines, sc.Err()
}

// targetCgroupProcs returns the cgroup.procs files, one per hierarchy mounted here, of pid's
// cgroups that the caller is not already in. recorded (TargetOptions.CgroupDirs), when it
// holds them all, saves reading the mount table.
func targetCgroupProcs(pid int, recorded map[string]string) ([]string, error) {
	target, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return nil, fmt.Errorf("read cgroups of pid %d: %w", pid, err)
	}
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("read own cgroups: %w", err)
	}
	if procs, ok := recordedCgroupProcs(target, self, recorded); ok {
		return procs, nil
	}
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return nil, fmt.Errorf("read cgroup mounts: %w", err)
	}
	procs, err := resolveCgroupProcs(target, self, mounts)
	if err != nil {
		return nil, fmt.Errorf("cgroups of pid %d: %w", pid, err)
	}
	return procs, nil
}

// recordedCgroupProcs maps the target's cgroups (its /proc/PID/cgroup) that the caller is
// not in onto the directories its runtime recorded, by hierarchy key: "unified" for cgroup2,
// else the line's controllers ("cpu,cpuacct", "name=systemd") or one of them ("cpu"). Each
// directory must end with the path the kernel shows for the target now, so a stale record
// (a target moved since) is never used; ok is false when any cgroup has no such directory,
// and the caller falls back to the mount table. Reading /proc/self/mountinfo costs an exec
// about a millisecond on a machine with a few dozen mounts; this, two small reads.
func recordedCgroupProcs(target, self []byte, recorded map[string]string) (procs []string, ok bool) {
	if len(recorded) == 0 {
		return nil, false
	}
	targetLines, err := parseCgroupFile(target)
	if err != nil {
		return nil, false
	}
	selfLines, err := parseCgroupFile(self)
	if err != nil {
		return nil, false
	}
	own := map[string]string{}
	for _, l := range selfLines {
		own[l.hierarchy()] = l.path
	}
	for _, l := range targetLines {
		if p, ok := own[l.hierarchy()]; ok && p == l.path {
			continue
		}
		if !path.IsAbs(l.path) || path.Clean(l.path) != l.path || strings.HasPrefix(l.path, "/..") {
			return nil, false // the mount table's path gives the error
		}
		keys := []string{l.controllers}
		if l.id == "0" && l.controllers == "" {
			keys = []string{"unified"}
		} else if strings.Contains(l.controllers, ",") {
			keys = append(keys, strings.Split(l.controllers, ",")...)
		}
		dir := ""
		for _, k := range keys {
			if d := recorded[k]; recordedDirOf(d, l.path) {
				dir = d
				break
			}
		}
		if dir == "" {
			return nil, false
		}
		procs = append(procs, filepath.Join(dir, "cgroup.procs"))
	}
	return procs, true
}

// cgroupMountRoot is where the runtimes that record cgroup directories (engine/cgroups, the
// shim's CgroupPaths) find the hierarchies: cgroup2 at it (or at its "unified" under v1), a v1
// hierarchy at its child named for the controllers.
const cgroupMountRoot = "/sys/fs/cgroup"

// recordedDirOf says whether d, a recorded directory, is the cgroup the kernel shows as p: d
// must be p under a hierarchy's mount point, not merely end with p (a target moved from
// /glassbox/c1 to /c1 would pass that, and the exec join a cgroup the target left). A layout
// this does not know gives false: the mount table decides.
func recordedDirOf(d, p string) bool {
	if d == "" || !filepath.IsAbs(d) || filepath.Clean(d) != d || p == "/" || !strings.HasSuffix(d, p) {
		return false
	}
	mount := d[:len(d)-len(p)]
	return mount == cgroupMountRoot || (filepath.Dir(mount) == cgroupMountRoot && mount != cgroupMountRoot+"/")
}

// resolveCgroupProcs maps the target's cgroups (its /proc/PID/cgroup) onto the caller's
// cgroup mounts. Only the target's own cgroups come out: a path the kernel shows outside the
// caller's cgroup namespace ("/../x") or outside what a mount shows is an error, never a
// guess. Hierarchies mounted nowhere are skipped: there is no file to join them by.
func resolveCgroupProcs(target, self []byte, mounts []*mountinfo.Info) ([]string, error) {
	targetLines, err := parseCgroupFile(target)
	if err != nil {
		return nil, err
	}
	selfLines, err := parseCgroupFile(self)
	if err != nil {
		return nil, err
	}
	own := map[string]string{}
	for _, l := range selfLines {
		own[l.hierarchy()] = l.path
	}
	var procs []string
	for _, l := range targetLines {
		if p, ok := own[l.hierarchy()]; ok && p == l.path {
			continue // already there
		}
		if !path.IsAbs(l.path) || path.Clean(l.path) != l.path || strings.HasPrefix(l.path, "/..") {
			return nil, fmt.Errorf("cgroup %q (%s) is outside this cgroup namespace", l.path, hierarchyName(l))
		}
		m, mounted := cgroupMount(l, mounts)
		if !mounted {
			continue
		}
		if m == nil {
			return nil, fmt.Errorf("cgroup %s (%s) is outside every mount of its hierarchy", l.path, hierarchyName(l))
		}
		rel := strings.TrimPrefix(l.path, m.Root)
		procs = append(procs, filepath.Join(m.Mountpoint, rel, "cgroup.procs"))
	}
	return procs, nil
}

func hierarchyName(l cgroupLine) string {
	if l.id == "0" && l.controllers == "" {
		return "cgroup2"
	}
	return l.controllers
}

// cgroupMount finds a mount of l's hierarchy whose root holds l's path, preferring the
// hierarchy's root (a v1 mount lists its controllers, or name=, in its super options).
// mounted says whether the hierarchy is mounted at all.
func cgroupMount(l cgroupLine, mounts []*mountinfo.Info) (found *mountinfo.Info, mounted bool) {
	for _, m := range mounts {
		if l.id == "0" && l.controllers == "" {
			if m.FSType != "cgroup2" {
				continue
			}
		} else {
			if m.FSType != "cgroup" {
				continue
			}
			opts := strings.Split(m.VFSOptions, ",")
			match := true
			for _, c := range strings.Split(l.controllers, ",") {
				if !slices.Contains(opts, c) {
					match = false
					break
				}
			}
			if !match {
				continue
			}
		}
		mounted = true
		if m.Root == "/" {
			return m, true
		}
		if found == nil && (l.path == m.Root || strings.HasPrefix(l.path, m.Root+"/")) {
			found = m
		}
	}
	return found, mounted
}
