package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/test/fixture"
)

// makeTree makes entries under dir: "d PATH MODE" a directory, "f PATH BODY" a file, "l PATH
// TARGET" a symlink, "o PATH" an opaque directory, "w PATH" a whiteout.
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
		case "o": // an opaque directory (overlayfs(5))
			if err = os.MkdirAll(p, 0o755); err == nil {
				err = unix.Setxattr(p, "trusted.overlay.opaque", []byte("y"), 0)
			}
		case "w": // a whiteout: a 0:0 character device
			err = unix.Mknod(p, unix.S_IFCHR, 0)
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

// TestDiffSeesWhatLayersHide: a path is a change (C) only where the image shows something
// there; a layer that hides the path from the ones below it (a whiteout or a file on the way,
// an opaque directory on the way, in a lower layer or in the upper one) makes it an addition.
func TestDiffSeesWhatLayersHide(t *testing.T) {
	fixture.NeedRoot(t) // trusted.* xattrs and device nodes
	for _, tc := range []struct {
		name                  string
		upper, lower0, lower1 []string // lower0 is the topmost lower layer
		want                  string   // the changes, "KIND PATH" joined by ", "
	}{
		{"changed in the image", []string{"d /d", "f /d/f x"}, nil, []string{"d /d", "f /d/f"}, "C /d, C /d/f"},
		{"new beside the image's", []string{"d /d", "f /d/g"}, nil, []string{"d /d", "f /d/f"}, "C /d, A /d/g"},
		{"under an opaque lower directory", []string{"d /d", "f /d/f"}, []string{"o /d"}, []string{"d /d", "f /d/f"}, "C /d, A /d/f"},
		{"under a whiteout", []string{"d /d", "f /d/f"}, []string{"w /d"}, []string{"d /d", "f /d/f"}, "A /d, A /d/f"},
		{"under a file", []string{"d /d", "f /d/f"}, []string{"f /d"}, []string{"d /d", "f /d/f"}, "C /d, A /d/f"},
		{"the container made the directory again", []string{"o /d", "f /d/f"}, nil, []string{"d /d", "f /d/f"}, "C /d, A /d/f"},
		{"the opaque layer's own entry shows", []string{"d /d", "f /d/f x"}, []string{"o /d", "f /d/f"}, []string{"d /d"}, "C /d, C /d/f"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			upper, l0, l1 := t.TempDir(), t.TempDir(), t.TempDir()
			makeTree(t, upper, tc.upper)
			makeTree(t, l0, tc.lower0)
			makeTree(t, l1, tc.lower1)
			entries, err := walkUpper(upper, []string{l0, l1})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range entries {
				got = append(got, e.Kind+" "+e.Path)
			}
			if strings.Join(got, ", ") != tc.want {
				t.Errorf("changes %q, want %q", strings.Join(got, ", "), tc.want)
			}
		})
	}
}
