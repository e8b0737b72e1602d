package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/trace"
)

// defaultDevices are the nodes every container's /dev has (runtime-spec "Default Devices").
var defaultDevices = []specs.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0},
}

// defaultDevicesFor is defaultDevices less those linux.devices lists itself (made from the
// spec's entry, once: runc's specconv drops a default its spec names too).
func defaultDevicesFor(spec []specs.LinuxDevice) []specs.LinuxDevice {
	var out []specs.LinuxDevice
	for _, d := range defaultDevices {
		if !slices.ContainsFunc(spec, func(s specs.LinuxDevice) bool { return filepath.Clean(s.Path) == d.Path }) {
			out = append(out, d)
		}
	}
	return out
}

// makeDefaultDevices fills a fresh /dev tmpfs: the default nodes, the /proc links and ptmx.
func (in *initProcess) makeDefaultDevices(root int) error {
	for _, d := range defaultDevicesFor(in.spec.Linux.Devices) {
		mode := os.FileMode(0o666)
		d.FileMode = &mode
		if err := in.makeDevice(root, d); err != nil {
			return err
		}
	}
	links := [][2]string{{"/proc/self/fd", "/dev/fd"}, {"/proc/self/fd/0", "/dev/stdin"},
		{"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"}, {"pts/ptmx", "/dev/ptmx"}}
	dev, err := openInRoot(root, "/dev", false, false)
	if err != nil {
		return fmt.Errorf("/dev: %w", err)
	}
	defer unix.Close(dev)
	for _, l := range links {
		name := l[1][len("/dev/"):]
		done := in.rec.Begin("symlink", l[1]+" -> "+l[0])
		err := unix.Symlinkat(l[0], dev, name)
		if errors.Is(err, unix.EEXIST) {
			err = nil
		}
		done(err)
		if err != nil {
			return fmt.Errorf("symlink %s: %w", l[1], err)
		}
	}
	return nil
}

// makeDevices creates linux.devices.
func (in *initProcess) makeDevices(root int) error {
	for i, d := range in.spec.Linux.Devices {
		if err := in.makeDevice(root, d); err != nil {
			return fmt.Errorf("linux.devices[%d]: %w", i, err)
		}
	}
	return nil
}

// makeDevice makes one node with mknod, or, in a user namespace (where mknod of a device is
// refused), bind-mounts the host's node of the same path, as runc does.
func (in *initProcess) makeDevice(root int, d specs.LinuxDevice) error {
	var typ uint32
	switch d.Type {
	case "c", "u":
		typ = unix.S_IFCHR
	case "b":
		typ = unix.S_IFBLK
	case "p":
		typ = unix.S_IFIFO
	default:
		return fmt.Errorf("device %s: unknown type %q", d.Path, d.Type)
	}
	mode := uint32(0o666)
	if d.FileMode != nil {
		mode = uint32(d.FileMode.Perm())
	}
	dir, name, err := openParentInRoot(root, d.Path)
	if err != nil {
		return fmt.Errorf("device %s: %w", d.Path, err)
	}
	defer unix.Close(dir)
	if in.cfg.NewNS["user"] || in.cfg.JoinedUserNS {
		return in.bindDevice(dir, name, d.Path)
	}
	dev := unix.Mkdev(uint32(d.Major), uint32(d.Minor))
	done := in.rec.Begin("mknod", fmt.Sprintf("%s %s %d:%d mode %o", d.Path, d.Type, d.Major, d.Minor, mode))
	unix.Unlinkat(dir, name, 0)
	err = unix.Mknodat(dir, name, typ|mode, int(dev))
	if err == nil {
		err = fixNode(dir, name, typ, dev, mode, d.UID, d.GID)
	}
	done(err)
	if err != nil {
		return fmt.Errorf("mknod %s: %w", d.Path, err)
	}
	return nil
}

// fixNode gives the node just made the spec's mode (mknod honours the umask; the spec's mode
// is meant exactly) and owner. Both go to the node by its descriptor, checked to be what
// mknod made: fchmodat(2) by name follows a symlink swapped in meanwhile, out of the rootfs
// before pivot_root. initc.c's OP_MKNODAT does the same, worded alike.
func fixNode(dir int, name string, typ uint32, dev uint64, mode uint32, uid, gid *uint32) error {
	fd, err := unix.Openat(dir, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != typ || (typ != unix.S_IFIFO && st.Rdev != dev) {
		return fmt.Errorf("%s changed under the init", name)
	}
	unix.Chmod("/proc/thread-self/fd/"+strconv.Itoa(fd), mode)
	u, g := -1, -1
	if uid != nil {
		u = int(*uid)
	}
	if gid != nil {
		g = int(*gid)
	}
	if u >= 0 || g >= 0 {
		return unix.Fchownat(fd, "", u, g, unix.AT_EMPTY_PATH)
	}
	return nil
}

func (in *initProcess) bindDevice(dir int, name, path string) error {
	// A node there already (a default device the spec lists again) is not opened: that
	// would open the device itself.
	f, err := unix.Openat(dir, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o644)
	if err == nil {
		unix.Close(f)
	} else if !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("device %s: make mount point: %w", path, err)
	}
	fd, err := unix.Openat(dir, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("device %s: %w", path, err)
	}
	defer unix.Close(fd)
	return in.mountAt(path, fd, path, "", unix.MS_BIND, "")
}

// openParentInRoot opens the directory that holds path inside the rootfs and returns it with
// the last component's name.
func openParentInRoot(root int, path string) (int, string, error) {
	dir, name := splitPath(path)
	fd, err := openInRoot(root, dir, false, false)
	return fd, name, err
}

func splitPath(p string) (string, string) {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			if i == 0 {
				return "/", p[1:]
			}
			return p[:i], p[i+1:]
		}
	}
	return "/", p
}

// mountCgroup mounts the container's cgroups at the spec's cgroup mount: on a v2 host with a
// cgroup namespace of its own, a fresh cgroup2 filesystem (whose root is the container's
// cgroup); otherwise bind mounts of the container's cgroup directories (plan_build.go's
// mountCgroup says why), remounted with the mount's flags.
func (in *initProcess) mountCgroup(fd int, m specs.Mount, flags uintptr) error {
	ro := flags & unix.MS_RDONLY
	base := flags &^ (unix.MS_RDONLY | unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT)
	mounts := in.cfg.Cgroups
	root, err := unix.Open(in.cfg.Rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(root)
	if len(mounts) == 1 && mounts[0].Dir == "." {
		if in.cfg.NewNS["cgroup"] {
			return in.mountAt(mounts[0].Type, fd, m.Destination, mounts[0].Type, base|ro, mounts[0].Options)
		}
		if err := in.mountAt(mounts[0].Host, fd, m.Destination, "", unix.MS_BIND, ""); err != nil || base|ro == 0 {
			return err
		}
		// fd names the directory under the bind: its root, through the rootfs.
		top, err := openInRoot(root, m.Destination, false, true)
		if err != nil {
			return err
		}
		defer unix.Close(top)
		return in.remountCgroupBind(top, m.Destination, base|ro)
	}
	// One tmpfs to hold a directory per hierarchy; made read-only once they are in.
	if err := in.mountAt("tmpfs", fd, m.Destination, "tmpfs", base, "mode=755"); err != nil {
		return err
	}
	// fd still names the directory under the tmpfs: find the tmpfs through the rootfs again.
	tmpfs, err := openInRoot(root, m.Destination, false, true)
	if err != nil {
		return err
	}
	defer unix.Close(tmpfs)
	for _, cm := range mounts {
		if err := unix.Mkdirat(tmpfs, cm.Dir, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("mkdir %s/%s: %w", m.Destination, cm.Dir, err)
		}
		dest := m.Destination + "/" + cm.Dir
		sub, err := unix.Openat(tmpfs, cm.Dir, unix.O_PATH|unix.O_NOFOLLOW|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		err = in.mountAt(cm.Host, sub, dest, "", unix.MS_BIND, "")
		unix.Close(sub)
		if err != nil || base|ro == 0 {
			if err != nil {
				return err
			}
			continue
		}
		// sub named the directory under the bind: the bind's root, through the tmpfs again.
		if sub, err = unix.Openat(tmpfs, cm.Dir, unix.O_PATH|unix.O_NOFOLLOW|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			return err
		}
		err = in.remountCgroupBind(sub, dest, base|ro)
		unix.Close(sub)
		if err != nil {
			return err
		}
	}
	if ro != 0 {
		return in.mountAt("", tmpfs, m.Destination, "", unix.MS_REMOUNT|unix.MS_BIND|base|ro, "")
	}
	return nil
}

// remountCgroupBind gives a bind of a cgroup directory (fd, its root) the mount's flags: a
// bind takes none of them, and a container whose cgroup mount should be read-only could
// otherwise write its own cgroups' files, its limits among them (runc remounts too).
func (in *initProcess) remountCgroupBind(fd int, dest string, flags uintptr) error {
	return in.mountAt("", fd, dest, "", unix.MS_REMOUNT|unix.MS_BIND|flags, "")
}

// newRecorderLike starts a recorder with rec's origin (steps already sent are not resent).
func newRecorderLike(rec *trace.Recorder) *trace.Recorder { return trace.New(rec.Origin()) }
