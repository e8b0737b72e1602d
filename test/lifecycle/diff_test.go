package lifecycle

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/glassbox/glassbox/engine"
	"github.com/glassbox/glassbox/test/fixture"
)

// diff leaves out the mount points glassbox made in the upper directory for the container's
// mounts, and the directories that hold only them; --all shows them. What the container
// itself changed shows either way, in those directories too.
func TestDiffHidesMountPoints(t *testing.T) {
	e := newEnv(t)
	reg := fixture.StartRegistry(t)
	// An image without /dev, /proc, /sys and /etc, as a FROM scratch one: every mount point
	// under them is the runtime's to make.
	bare := reg.MustPush(t, "bare:latest", fixture.MustBusybox(t, fixture.Omit("dev", "proc", "sys", "etc")))
	e.Must("pull", "-q", bare)
	vol := t.TempDir()
	// The remapped root must be able to reach the rootfs: t.TempDir's directories are 0700.
	for d := e.root; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o711)
	}
	for i, tc := range []struct {
		name, image string
		flags, cmd  []string
		want        []string // the whole default diff
		all         []string // some of what --all adds
	}{
		{"full", e.image, nil, []string{"sh", "-c", "echo hi > /tmp/x; rm /etc/group"},
			[]string{"C /etc", "D /etc/group", "C /tmp", "A /tmp/x"},
			[]string{"C /dev", "A /dev/pts", "A /dev/shm", "C /sys", "A /sys/fs/cgroup", "A /etc/hostname", "A /etc/hosts"}},
		{"full, chmod of a directory on the way to a mount point", e.image, nil, []string{"chmod", "700", "/etc"},
			[]string{"C /etc"},
			[]string{"A /etc/hostname"}},
		{"full, root remapped", e.image, []string{"--userns", "remap", "--read-only"}, []string{"true"},
			nil,
			[]string{"A /dev/pts", "A /etc/hostname"}},
		{"bare", bare, []string{"-v", vol + ":/data/in", "--tmpfs", "/scratch"}, []string{"sh", "-c", "echo hi > /tmp/x"},
			[]string{"C /tmp", "A /tmp/x"},
			[]string{"A /dev", "A /dev/pts", "A /proc", "A /sys", "A /sys/fs", "A /sys/fs/cgroup", "A /etc", "A /etc/resolv.conf",
				"A /data", "A /data/in", "A /scratch"}},
		{"bare, a file beside a mount point", bare, nil, []string{"sh", "-c", "echo hi > /etc/motd"},
			[]string{"A /etc", "A /etc/motd"},
			[]string{"A /etc/hostname"}},
		// With /sys unmounted, what the container writes there lands in the upper directory.
		{"bare, a file under an unmounted mount point", bare, []string{"--privileged"}, []string{"sh", "-c", "umount -l /sys && touch /sys/mine"},
			[]string{"A /sys", "A /sys/mine"},
			[]string{"A /sys/fs/cgroup"}},
	} {
		n := fmt.Sprint(name(t), "-", i)
		args := append(append([]string{"run", "--name", n}, tc.flags...), tc.image)
		e.Must(append(args, tc.cmd...)...)
		if got := diff(e, n); !slices.Equal(got, tc.want) {
			t.Errorf("%s: diff:\n%s\nwant:\n%s", tc.name, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
		all := diff(e, "--all", n)
		for _, w := range append(tc.all, tc.want...) {
			if !slices.Contains(all, w) {
				t.Errorf("%s: diff --all lacks %q:\n%s", tc.name, w, strings.Join(all, "\n"))
			}
		}
	}
}

func diff(e *env, args ...string) []string {
	e.t.Helper()
	var cs []engine.Change
	e.JSON(&cs, append([]string{"--format", "json", "diff"}, args...)...)
	var out []string
	for _, c := range cs {
		out = append(out, c.Kind+" "+c.Path)
	}
	return out
}
