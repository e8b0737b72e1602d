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
// cgroups that the caller is not already in.
func targetCgroupProcs(pid int) ([]string, error) {
	target, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return nil, fmt.Errorf("read cgroups of pid %d: %w", pid, err)
	}
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("read own cgroups: %w", err)
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
