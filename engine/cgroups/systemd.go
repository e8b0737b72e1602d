package cgroups

import (
	"fmt"
	"path"
	"strings"
)

// systemdPath turns a systemd-style cgroupsPath, "slice:prefix:name" (what podman and
// containerd pass with a systemd cgroup manager), into the cgroupfs path systemd would give
// it: the slice expanded into its parents (systemd.slice(5): "a-b.slice" lives in "a.slice",
// "-.slice" is the root) and the unit "prefix-name.scope". glassbox makes the directories
// itself: there is no systemd to ask on every machine it runs on.
func systemdPath(p string) (string, bool, error) {
	parts := strings.Split(p, ":")
	if len(parts) != 3 || strings.Contains(p, "/") {
		return "", false, nil
	}
	slice, prefix, name := parts[0], parts[1], parts[2]
	if name == "" {
		return "", true, fmt.Errorf("cgroup path %q: systemd form slice:prefix:name has no name", p)
	}
	if slice == "" {
		slice = "system.slice"
	}
	dir, err := expandSlice(slice)
	if err != nil {
		return "", true, fmt.Errorf("cgroup path %q: %w", p, err)
	}
	unit := name
	if !strings.HasSuffix(name, ".slice") {
		unit = name + ".scope"
		if prefix != "" {
			unit = prefix + "-" + unit
		}
	}
	return path.Join(dir, unit), true, nil
}

// expandSlice maps "a-b-c.slice" to "/a.slice/a-b.slice/a-b-c.slice".
func expandSlice(slice string) (string, error) {
	if !strings.HasSuffix(slice, ".slice") || strings.Contains(slice, "/") {
		return "", fmt.Errorf("invalid slice name %q", slice)
	}
	if slice == "-.slice" {
		return "/", nil
	}
	base := strings.TrimSuffix(slice, ".slice")
	if base == "" || strings.HasPrefix(base, "-") || strings.HasSuffix(base, "-") || strings.Contains(base, "--") {
		return "", fmt.Errorf("invalid slice name %q", slice)
	}
	dir, prefix := "/", ""
	for _, part := range strings.Split(base, "-") {
		prefix += part
		dir = path.Join(dir, prefix+".slice")
		prefix += "-"
	}
	return dir, nil
}
