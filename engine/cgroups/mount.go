package cgroups

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"path/filepath"
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

// readMounts parses the cgroup and cgroup2 lines of a mountinfo file (proc(5)), rebasing mount
// points from DefaultRoot onto root. Named v1 hierarchies without controllers (name=systemd)
// are left out: glassbox has no use for them and does not write there.
func readMounts(mountinfo, root string) (mounts, error) {
	f, err := os.Open(mountinfo)
	if err != nil {
		return mounts{}, fmt.Errorf("read cgroup mounts: %w", err)
	}
	defer f.Close()
	var m mounts
	var v1, v2 bool
	v2AtRoot := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || len(fields) < sep+4 {
			continue
		}
		fstype, super := fields[sep+1], fields[sep+3]
		if fstype != "cgroup" && fstype != "cgroup2" {
			continue
		}
		mountPoint := unescapeMountinfo(fields[4])
		if root != DefaultRoot {
			rel, err := filepath.Rel(DefaultRoot, mountPoint)
			if err != nil || strings.HasPrefix(rel, "..") {
				continue
			}
			mountPoint = filepath.Join(root, rel)
		}
		h := hierarchy{mountPoint: mountPoint, mountRoot: unescapeMountinfo(fields[3])}
		if fstype == "cgroup2" {
			if v2 {
				continue // a second cgroup2 mount shows the same hierarchy
			}
			v2 = true
			v2AtRoot = mountPoint == root
			h.key = unifiedKey
			h.controllers = readControllers(filepath.Join(mountPoint, "cgroup.controllers"))
		} else {
			for _, o := range strings.Split(super, ",") {
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
	if err := sc.Err(); err != nil {
		return mounts{}, fmt.Errorf("read cgroup mounts: %w", err)
	}
	switch {
	case v1 && v2:
		m.mode = Hybrid
	case v1:
		m.mode = Legacy
	case v2 && v2AtRoot:
		m.mode = Unified
	case v2:
		m.mode = Unified // cgroup2 mounted elsewhere alone is still unified
	default:
		return mounts{}, fmt.Errorf("read cgroup mounts: no cgroup filesystem in %s", mountinfo)
	}
	sort.SliceStable(m.hierarchies, func(i, j int) bool { return m.hierarchies[i].key < m.hierarchies[j].key })
	return m, nil
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
