package cgroups

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// DefaultRoot is where cgroup filesystems are mounted on every machine glassbox knows.
const DefaultRoot = "/sys/fs/cgroup"

// unifiedKey names the cgroup2 hierarchy in Paths and in hierarchy maps.
const unifiedKey = "unified"

// hierarchy is one mounted cgroup hierarchy.
type hierarchy struct {
	// key is "unified" for cgroup2, else the v1 controllers as mounted ("cpu,cpuacct").
	key string
	// controllers the hierarchy carries (v1: from the mount options; v2: from the root's
	// cgroup.controllers, read later).
	controllers []string
	// mountPoint is where the hierarchy is mounted, under Config.Root.
	mountPoint string
	// mountRoot is the cgroup the mount shows at its top (mountinfo field 4): "/" unless the
	// mount was made inside a cgroup namespace or is a bind mount of a subtree.
	mountRoot string
}

// v1Controllers are the controllers a v1 mount's options can name (cgroups(7)).
var v1Controllers = map[string]bool{
	"cpu": true, "cpuacct": true, "cpuset": true, "memory": true, "devices": true,
	"freezer": true, "net_cls": true, "blkio": true, "perf_event": true, "net_prio": true,
	"hugetlb": true, "pids": true, "rdma": true, "misc": true,
}

// mounts is what mountinfo says about cgroups.
type mounts struct {
	mode        Mode
	hierarchies []hierarchy
}

// readMounts parses the cgroup and cgroup2 lines of a mountinfo file (proc(5)). With a root
// other than DefaultRoot, the mounts at or under root are used as they are (a private cgroup
// mount); if there are none, mount points under DefaultRoot are rebased onto root (a recorded
// tree). Named v1 hierarchies without controllers (name=systemd) are left out: glassbox has
// no use for them and does not write there.
func readMounts(mountinfo, root string) (mounts, error) {
	b, err := os.ReadFile(mountinfo)
	if err != nil {
		return mounts{}, fmt.Errorf("read cgroup mounts: %w", err)
	}
	type entry struct{ fstype, super, mountPoint, mountRoot string }
	var entries []entry
	rebase := root != DefaultRoot
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		sep := slices.Index(fields, "-")
		if sep < 5 || len(fields) < sep+4 {
			continue
		}
		e := entry{fields[sep+1], fields[sep+3], unescapeMountinfo(fields[4]), unescapeMountinfo(fields[3])}
		if e.fstype != "cgroup" && e.fstype != "cgroup2" {
			continue
		}
		if within(root, e.mountPoint) {
			rebase = false
		}
		entries = append(entries, e)
	}
	var m mounts
	var v1, v2 bool
	for _, e := range entries {
		if rebase {
			if !within(DefaultRoot, e.mountPoint) {
				continue
			}
			rel, _ := filepath.Rel(DefaultRoot, e.mountPoint)
			e.mountPoint = filepath.Join(root, rel)
		} else if !within(root, e.mountPoint) {
			continue
		}
		h := hierarchy{mountPoint: e.mountPoint, mountRoot: e.mountRoot}
		if e.fstype == "cgroup2" {
			if v2 {
				continue // a second cgroup2 mount shows the same hierarchy
			}
			v2 = true
			h.key = unifiedKey
			h.controllers = readControllers(filepath.Join(e.mountPoint, "cgroup.controllers"))
		} else {
			for _, o := range strings.Split(e.super, ",") {
				if v1Controllers[o] {
					h.controllers = append(h.controllers, o)
				}
			}
			if len(h.controllers) == 0 {
				continue
			}
			v1 = true
			sort.Strings(h.controllers)
			h.key = strings.Join(h.controllers, ",")
		}
		m.hierarchies = append(m.hierarchies, h)
	}
	switch {
	case v1 && v2:
		m.mode = Hybrid
	case v1:
		m.mode = Legacy
	case v2:
		m.mode = Unified
	default:
		return mounts{}, fmt.Errorf("read cgroup mounts: no cgroup filesystem under %s in %s", root, mountinfo)
	}
	sort.SliceStable(m.hierarchies, func(i, j int) bool { return m.hierarchies[i].key < m.hierarchies[j].key })
	return m, nil
}

// within reports whether p is dir or below it.
func within(dir, p string) bool {
	dir, p = filepath.Clean(dir), filepath.Clean(p)
	return p == dir || strings.HasPrefix(p, dir+"/") || dir == "/"
}

// unescapeMountinfo undoes the octal escapes proc(5) uses for space, tab, newline, backslash.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			ok := true
			for _, d := range s[i+1 : i+4] {
				if d < '0' || d > '7' {
					ok = false
					break
				}
				c = c*8 + byte(d-'0')
			}
			if ok {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// readControllers reads a cgroup2 cgroup.controllers (or subtree_control) file; a missing file
// reads as no controllers.
func readControllers(file string) []string {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}

// ownCgroups parses /proc/PID/cgroup (cgroups(7)): hierarchy-ID:controllers:path. It returns
// the path per hierarchy key ("unified" for the 0:: line).
func ownCgroups(file string) (map[string]string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read own cgroup: %w", err)
	}
	own := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			own[unifiedKey] = parts[2]
			continue
		}
		ctls := strings.Split(parts[1], ",")
		sort.Strings(ctls) // the same key readMounts gives the hierarchy
		own[strings.Join(ctls, ",")] = parts[2]
	}
	return own, nil
}

// dirOf is the directory of cgroup path p (as /proc/PID/cgroup shows it) in hierarchy h. A
// path outside the mount's root (a process in an ancestor of a namespaced mount) maps to the
// mount's top.
func (h hierarchy) dirOf(p string) string {
	p, root := path.Clean("/"+p), path.Clean("/"+h.mountRoot)
	switch {
	case root == "/":
		return filepath.Join(h.mountPoint, p)
	case p == root:
		return h.mountPoint
	case strings.HasPrefix(p, root+"/"):
		return filepath.Join(h.mountPoint, strings.TrimPrefix(p, root))
	}
	return h.mountPoint
}

// Detect reads how this machine mounts cgroups, from /proc/self/mountinfo.
func Detect() (Mode, error) {
	m, err := readMounts("/proc/self/mountinfo", DefaultRoot)
	if err != nil {
		return 0, err
	}
	return m.mode, nil
}

// String names the mode as docker info and the TUI header do.
func (m Mode) String() string {
	switch m {
	case Legacy:
		return "v1"
	case Hybrid:
		return "hybrid"
	case Unified:
		return "v2"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}
