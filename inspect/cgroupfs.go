package inspect

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/sys/mountinfo"
)

// UnifiedKey names the cgroup2 hierarchy in path maps, as engine/cgroups' Paths does; v1
// hierarchies are named by their mounted controller list ("memory", "cpu,cpuacct",
// "name=systemd").
const UnifiedKey = "unified"

// Hierarchy is one mounted cgroup hierarchy.
type Hierarchy struct {
	Key         string   `json:"key"`         // "memory", "cpu,cpuacct", "name=systemd", "unified"
	Version     int      `json:"version"`     // 1 or 2
	Controllers []string `json:"controllers"` // v1: the mount's controllers; v2: cgroup.controllers of its root
	Mountpoint  string   `json:"mountpoint"`
	Root        string   `json:"root"` // the cgroup the mount shows as its top ("/" on the host)
}

// v1 mount options that are not controllers (cgroups(7)).
var v1Options = map[string]bool{"rw": true, "ro": true, "noprefix": true, "clone_children": true,
	"xattr": true, "cpuset_v2_mode": true, "favordynmods": true, "none": true}

// Hierarchies lists the cgroup hierarchies mounted in this process's mount namespace, each once
// (the first mount of a hierarchy wins, as systemd's layout has one each).
func (h Host) Hierarchies() ([]Hierarchy, error) {
	f, err := os.Open(h.path("/proc/self/mountinfo"))
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	defer f.Close()
	mounts, err := mountinfo.GetMountsFromReader(f, mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return nil, fmt.Errorf("parse mountinfo: %w", err)
	}
	var out []Hierarchy
	seen := map[string]bool{}
	for _, m := range mounts {
		hy := Hierarchy{Mountpoint: h.Root + m.Mountpoint, Root: m.Root}
		if m.FSType == "cgroup2" {
			hy.Key, hy.Version = UnifiedKey, 2
			if b, err := os.ReadFile(hy.Mountpoint + "/cgroup.controllers"); err == nil {
				hy.Controllers = strings.Fields(string(b))
			}
		} else {
			hy.Version = 1
			for _, o := range strings.Split(m.VFSOptions, ",") {
				if !v1Options[o] && !strings.HasPrefix(o, "release_agent=") {
					hy.Controllers = append(hy.Controllers, o)
				}
			}
			hy.Key = strings.Join(hy.Controllers, ",")
		}
		if hy.Key == "" || seen[hy.Key] {
			continue
		}
		seen[hy.Key] = true
		out = append(out, hy)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// CgroupMembership is one line of /proc/PID/cgroup with the directory it names.
type CgroupMembership struct {
	HierarchyID int    `json:"hierarchyId"` // the first field of /proc/PID/cgroup (0 for cgroup2)
	Key         string `json:"key"`         // the controllers field, or "unified" for cgroup2
	Path        string `json:"path"`        // as the kernel shows it from our cgroup namespace
	Dir         string `json:"dir"`         // the directory on this machine, "" if not mounted here
	Version     int    `json:"version"`
}

// Cgroups reads pid's cgroup membership (cgroups(7): hierarchy-ID:controller-list:path).
func (h Host) Cgroups(pid int) ([]CgroupMembership, error) {
	b, err := h.readProcFile(pid, "cgroup")
	if err != nil {
		return nil, err
	}
	hier, err := h.Hierarchies()
	if err != nil {
		return nil, err
	}
	return parseProcCgroup(b, hier), nil
}

func parseProcCgroup(b []byte, hier []Hierarchy) []CgroupMembership {
	byKey := map[string]Hierarchy{}
	for _, hy := range hier {
		byKey[hy.Key] = hy
	}
	var out []CgroupMembership
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		parts := strings.SplitN(string(line), ":", 3)
		if len(parts) != 3 {
			continue
		}
		id, _ := strconv.Atoi(parts[0])
		m := CgroupMembership{HierarchyID: id, Key: parts[1], Path: parts[2], Version: 1}
		if id == 0 && parts[1] == "" {
			m.Key, m.Version = UnifiedKey, 2
		}
		if hy, ok := byKey[m.Key]; ok {
			m.Dir = cgroupDir(hy, m.Path)
		}
		out = append(out, m)
	}
	return out
}

// cgroupDir joins a cgroup path onto the hierarchy's mount, allowing for a mount of a
// sub-tree (a container's own view, where the mount root is its cgroup).
func cgroupDir(hy Hierarchy, p string) string {
	rel := p
	if hy.Root != "/" {
		if p != hy.Root && !strings.HasPrefix(p, hy.Root+"/") {
			return ""
		}
		rel = strings.TrimPrefix(p, hy.Root)
	}
	return path.Join(hy.Mountpoint, rel)
}

// CgroupPaths maps each hierarchy pid belongs to onto its directory: the form the poller's
// Add and engine's ContainerDetail.CgroupPaths use.
func (h Host) CgroupPaths(pid int) (map[string]string, error) {
	ms, err := h.Cgroups(pid)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, m := range ms {
		if m.Dir != "" {
			out[m.Key] = m.Dir
		}
	}
	return out, nil
}
