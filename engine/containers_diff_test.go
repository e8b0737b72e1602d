package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// makeTree makes entries under dir: "d PATH MODE" a directory, "f PATH BODY" a file, "l PATH
// TARGET" a symlink.
func makeTree(t *testing.T, dir string, entries []string) {
	t.Helper()
	for _, e := range entries {
		f := strings.SplitN(e, " ", 3)
		p := filepath.Join(dir, f[1])
		var err error
		switch f[0] {
		case "d":
			mode := os.FileMode(0o755)
			if len(f) == 3 && f[2] == "700" {
				mode = 0o700
			}
			if err = os.MkdirAll(p, mode); err == nil {
				err = os.Chmod(p, mode)
			}
		case "f":
			body := ""
			if len(f) == 3 {
				body = f[2]
			}
			err = os.WriteFile(p, []byte(body), 0o644)
		case "l":
			err = os.Symlink(f[2], p)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// The entries only the runtime's mount points account for go; anything the container did
// in or beside them stays, with the directories above it.
func TestWithoutMountPoints(t *testing.T) {
	lower := []string{"d /etc", "d /tmp", "d /dev", "f /etc/passwd root", "d /run", "d /var", "l /var/run ../run", "l /loop /loop"}
	points := []string{"/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/etc/hostname", "/etc/hosts", "/data",
		"/var/run/docker.sock", "/loop/x"}
	for _, tc := range []struct {
		name   string
		upper  []string
		points []string // nil: the ones above
		want   string
	}{
		{"mount points the image lacks", []string{"d /sys", "d /sys/fs", "d /sys/fs/cgroup", "d /data"}, nil, ""},
		{"a copied-up parent of mount points", []string{"d /dev", "d /dev/pts", "d /etc", "f /etc/hostname", "f /etc/hosts"}, nil, ""},
		{"a file the container made beside them", []string{"d /dev", "d /dev/pts", "f /dev/mine"}, nil, "C /dev,A /dev/mine"},
		{"a file under a mount point", []string{"d /sys", "d /sys/fs", "d /sys/fs/cgroup", "f /sys/fs/cgroup/x"}, nil,
			"A /sys,A /sys/fs,A /sys/fs/cgroup,A /sys/fs/cgroup/x"},
		{"a file beside a directory on the way", []string{"d /sys", "d /sys/fs", "d /sys/fs/cgroup", "f /sys/fs/y"}, nil,
			"A /sys,A /sys/fs,A /sys/fs/y"},
		{"a chmod of a parent", []string{"d /etc 700", "f /etc/hostname"}, nil, "C /etc"},
		{"a changed file beside a mount point", []string{"d /etc", "f /etc/hostname", "f /etc/passwd x"}, nil, "C /etc,C /etc/passwd"},
		{"a file bind target with content", []string{"d /etc", "f /etc/hosts 127.0.0.1 x"}, nil, "C /etc,A /etc/hosts"},
		{"a symlink where a mount point goes", []string{"l /data /tmp"}, nil, "A /data"},
		{"a name sorting between a mount point and its children", []string{"d /dev", "d /dev/pts", "f /dev-x"}, nil, "A /dev-x"},
		{"no config.json: nothing is hidden", []string{"d /sys", "d /tmp", "f /tmp/x"}, []string{}, "A /sys,C /tmp,A /tmp/x"},
		{"a mount point through the image's symlink", []string{"d /run", "f /run/docker.sock"}, nil, ""},
		{"a mount point through a symlink the container made", []string{"l /data ../tmp/d", "d /tmp", "d /tmp/d"}, []string{"/data"}, "A /data"},
		{"a directory not on the way to a mount point", []string{"d /opt", "d /tmp"}, nil, "A /opt,C /tmp"},
	} {
		root := t.TempDir()
		up, low := filepath.Join(root, "upper"), filepath.Join(root, "lower")
		makeTree(t, low, lower)
		os.MkdirAll(up, 0o755)
		makeTree(t, up, tc.upper)
		entries, err := walkUpper(up, []string{low})
		if err != nil {
			t.Fatal(err)
		}
		ps := tc.points
		if ps == nil {
			ps = points
		}
		set := map[string]bool{}
		for _, p := range ps {
			set[resolveInRootfs([]string{up, low}, p)] = true
		}
		var got []string
		for _, en := range withoutMountPoints(entries, set) {
			got = append(got, en.Kind+" "+en.Path)
		}
		if strings.Join(got, ",") != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
