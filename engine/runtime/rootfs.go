package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// setupRootfs prepares the container's root in its new mount namespace: propagation, the
// rootfs as a mount point, the spec's mounts in order, devices, then pivot_root (or chroot).
func (in *initProcess) setupRootfs() error {
	s := in.spec
	rootfs := in.cfg.Rootfs
	prop := uintptr(unix.MS_REC | unix.MS_PRIVATE)
	if p, ok := propagationFlags[s.Linux.RootfsPropagation]; ok {
		prop = p
	}
	if err := in.mount("", "/", "", prop, ""); err != nil {
		return fmt.Errorf("linux.rootfsPropagation: %w", err)
	}
	// pivot_root(2) wants the new root to be a mount point.
	if err := in.mount(rootfs, rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("root.path: %w", err)
	}
	root, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("root.path: open %s: %w", rootfs, err)
	}
	defer unix.Close(root)
	devTmpfs := false
	for i, m := range s.Mounts {
		if err := in.mountSpec(root, i, m); err != nil {
			return fmt.Errorf("mounts[%d] (%s): %w", i, m.Destination, err)
		}
		if filepath.Clean(m.Destination) == "/dev" && m.Type == "tmpfs" {
			devTmpfs = true
		}
	}
	if devTmpfs {
		if err := in.makeDefaultDevices(root); err != nil {
			return err
		}
	}
	if err := in.makeDevices(root); err != nil {
		return err
	}
	if in.cfg.CreateHooks {
		if err := in.waitHooks(); err != nil {
			return err
		}
	}
	if in.cfg.NoPivot {
		err = in.chrootMove(rootfs)
	} else {
		err = in.pivotRoot(rootfs)
	}
	if err != nil {
		return err
	}
	return nil
}

// finalizeRootfs makes what must stay read-only so, after the sysctls are written (runc's
// order): read-only paths, masked paths, the read-only root.
func (in *initProcess) finalizeRootfs() error {
	if err := in.readonlyPaths(); err != nil {
		return err
	}
	if err := in.maskPaths(); err != nil {
		return err
	}
	if in.spec.Root.Readonly {
		if err := in.mount("", "/", "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("root.readonly: %w", err)
		}
	}
	return nil
}

// mount is mount(2) as a trace step, with an error naming the mount.
func (in *initProcess) mount(source, target, fstype string, flags uintptr, data string) error {
	return in.tracedMount(source, target, target, fstype, flags, data)
}

// mountAt mounts onto the directory or file open at fd, by its /proc/thread-self/fd path: the
// kernel mounts on the very object resolved inside the rootfs, not on whatever a path names
// by the time mount(2) walks it again (runc's answer to the mount-target races).
func (in *initProcess) mountAt(source string, fd int, dest, fstype string, flags uintptr, data string) error {
	return in.tracedMount(source, "/proc/thread-self/fd/"+strconv.Itoa(fd), dest, fstype, flags, data)
}

// tracedMount is mount(2) onto target, recorded and reported as a mount on shown.
func (in *initProcess) tracedMount(source, target, shown, fstype string, flags uintptr, data string) error {
	detail := fmt.Sprintf("%s on %s type %s flags %s", orNone(source), shown, orNone(fstype), flagNames(flags))
	if data != "" {
		detail += " data " + data
	}
	done := in.rec.Begin("mount", detail)
	err := unix.Mount(source, target, fstype, flags, data)
	done(err)
	if err != nil {
		return fmt.Errorf("mount %s on %s: %w", orNone(source), shown, err)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// mountSpec does one of the spec's mounts.
func (in *initProcess) mountSpec(root, index int, m specs.Mount) error {
	flags, propagation, data, err := parseMountOptions(m.Options)
	if err != nil {
		return err
	}
	bind := isBind(m)
	if m.Type == "bind" {
		flags |= unix.MS_BIND
	}
	// proc and sysfs must land on a real directory: a symlink there (even one that stays in
	// the rootfs) is how the 2019 and 2025 proc races started (CVE-2019-19921).
	strict := m.Type == "proc" || m.Type == "sysfs"
	file := false
	if bind {
		if fi, err := os.Stat(m.Source); err == nil && !fi.IsDir() {
			file = true
		}
	}
	fd, err := openInRoot(root, m.Destination, file, strict)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	switch {
	case m.Type == "cgroup":
		return in.mountCgroup(fd, m, flags)
	case bind:
		if idfd, ok := in.cfg.IDMapFDs[index]; ok {
			// The parent's detached idmapped clone of the source (idmap.go) goes on the
			// target, by descriptor on both sides.
			if err := in.step("mount", m.Source+" on "+m.Destination+" idmapped (move_mount of the parent's detached mount)", func() error {
				return wrap("move_mount", unix.MoveMount(idfd, "", fd, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH))
			}); err != nil {
				return fmt.Errorf("move_mount idmapped %s on %s: %w", m.Source, m.Destination, err)
			}
		} else if err := in.mountAt(m.Source, fd, m.Destination, "", unix.MS_BIND|(flags&unix.MS_REC), ""); err != nil {
			return err
		}
		// Bind mounts ignore every flag but MS_REC at first: a remount applies them.
		if rest := flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT); rest != 0 {
			if err := in.remountAt(root, m.Destination, file, rest); err != nil {
				return err
			}
		}
	default:
		data = labeledMountData(m, data, in.spec.Linux.MountLabel)
		if err := in.mountAt(m.Source, fd, m.Destination, m.Type, flags&^unix.MS_REMOUNT, data); err != nil {
			return err
		}
	}
	for _, p := range propagation {
		top, err := openInRoot(root, m.Destination, file, false)
		if err != nil {
			return err
		}
		err = in.mountAt("", top, m.Destination, "", p, "")
		unix.Close(top)
		if err != nil {
			return err
		}
	}
	return nil
}

// remountAt applies flags to the mount just made at dest. The descriptor the mount was made
// on names the directory under it (a magic link does not cross mounts), so dest is resolved
// again, inside the rootfs, to reach the new mount's root.
func (in *initProcess) remountAt(root int, dest string, file bool, flags uintptr) error {
	top, err := openInRoot(root, dest, file, false)
	if err != nil {
		return err
	}
	defer unix.Close(top)
	return in.mountAt("", top, dest, "", unix.MS_BIND|unix.MS_REMOUNT|flags, "")
}

// openInRoot opens path inside the rootfs open at root, making missing directories (and the
// last component as an empty file when file is set), with every symlink resolved as if root
// were "/" (openat2 RESOLVE_IN_ROOT): a symlink in the image cannot point a mount at the host.
// strict refuses symlinks altogether.
func openInRoot(root int, path string, file, strict bool) (int, error) {
	resolve := uint64(unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS)
	if strict {
		resolve = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS
	}
	how := func(flags int) *unix.OpenHow {
		return &unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: resolve}
	}
	rel, err := resolveInRoot(root, path)
	if err != nil {
		return -1, fmt.Errorf("resolve %s in the rootfs: %w", path, err)
	}
	clean := strings.TrimLeft(filepath.Clean(path), "/")
	if strict && rel != clean {
		return -1, fmt.Errorf("open %s in the rootfs: %w (a symlink is on the way)", path, unix.ELOOP)
	}
	// Into /proc only where the spec says so (runc's checkProcMount looks at the resolved
	// target too): followed there, an image symlink would put a volume over /proc/1, the
	// init's own /proc/self, which the init goes through later (CVE-2025-52881's class).
	// initc_open_in_root does the same, worded alike.
	if (rel == "proc" || strings.HasPrefix(rel, "proc/")) && rel != clean {
		return -1, fmt.Errorf("open %s in the rootfs: a symlink leads it into /proc", path)
	}
	if rel == "" {
		return unix.Openat2(root, ".", how(unix.O_PATH|unix.O_DIRECTORY))
	}
	fd, err := unix.Openat2(root, rel, how(unix.O_PATH))
	if err == nil {
		return fd, nil
	}
	if !errors.Is(err, unix.ENOENT) {
		return -1, fmt.Errorf("open %s in the rootfs: %w", path, err)
	}
	// Make it one component at a time, each created relative to its resolved parent.
	parts := strings.Split(rel, "/")
	dir, err := unix.Openat2(root, ".", how(unix.O_PATH|unix.O_DIRECTORY))
	if err != nil {
		return -1, err
	}
	for i, name := range parts {
		last := i == len(parts)-1
		next, err := unix.Openat2(dir, name, how(unix.O_PATH))
		if errors.Is(err, unix.ENOENT) {
			if last && file {
				f, cerr := unix.Openat(dir, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o644)
				if cerr == nil {
					unix.Close(f)
				} else if !errors.Is(cerr, unix.EEXIST) {
					err = cerr
				}
			} else if merr := unix.Mkdirat(dir, name, 0o755); merr != nil && !errors.Is(merr, unix.EEXIST) {
				err = merr
			}
			if errors.Is(err, unix.ENOENT) {
				next, err = unix.Openat2(dir, name, how(unix.O_PATH))
			}
		}
		unix.Close(dir)
		if err != nil {
			return -1, fmt.Errorf("make %s in the rootfs: %w", path, err)
		}
		dir = next
	}
	return dir, nil
}

// resolveInRoot returns path inside the rootfs open at root with every symlink on the way
// replaced by what it names, resolved as if root were "/" (filepath-securejoin's SecureJoin,
// on a descriptor): ".." stops at the root, an absolute link restarts from it. Parts that do
// not exist yet are kept as given, so the caller can make them inside the rootfs.
func resolveInRoot(root int, path string) (string, error) {
	var resolved []string
	queue := strings.Split(path, "/")
	links := 0
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(resolved) > 0 {
				resolved = resolved[:len(resolved)-1]
			}
			continue
		}
		candidate := strings.Join(append(resolved, c), "/")
		target, err := readlinkat(root, candidate)
		if err != nil {
			// Not a symlink (EINVAL), or not there yet (ENOENT, ENOTDIR): take it as is.
			resolved = append(resolved, c)
			continue
		}
		if links++; links > 255 {
			return "", unix.ELOOP
		}
		if strings.HasPrefix(target, "/") {
			resolved = nil
		}
		queue = append(strings.Split(target, "/"), queue...)
	}
	return strings.Join(resolved, "/"), nil
}

func readlinkat(dir int, path string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dir, path, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// pivotRoot makes rootfs the root and detaches the old one, as runc does without a temporary
// directory: pivot_root(".", ".") stacks the old root on top of the new one, and unmounting
// "." then removes it (pivot_root(2), "NOTES").
func (in *initProcess) pivotRoot(rootfs string) error {
	done := in.rec.Begin("pivot_root", rootfs)
	err := func() error {
		oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open /: %w", err)
		}
		defer unix.Close(oldroot)
		newroot, err := unix.Open(rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", rootfs, err)
		}
		defer unix.Close(newroot)
		if err := unix.Fchdir(newroot); err != nil {
			return fmt.Errorf("fchdir rootfs: %w", err)
		}
		if err := unix.PivotRoot(".", "."); err != nil {
			return fmt.Errorf("pivot_root %s: %w", rootfs, err)
		}
		if err := unix.Fchdir(oldroot); err != nil {
			return fmt.Errorf("fchdir old root: %w", err)
		}
		// Slave first, so the unmount does not propagate to the host's mounts.
		if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("make old root rslave: %w", err)
		}
		if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount old root: %w", err)
		}
		return wrap("chdir /", unix.Chdir("/"))
	}()
	done(err)
	if err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	return nil
}

// chrootMove is --no-pivot: move the rootfs mount over / and chroot into it (for ramfs
// roots, where pivot_root is refused). The old root stays reachable to a process that
// escapes the chroot, which is why pivot_root is the default.
func (in *initProcess) chrootMove(rootfs string) error {
	done := in.rec.Begin("chroot", rootfs+" moved over / (no pivot_root)")
	err := func() error {
		if err := unix.Chdir(rootfs); err != nil {
			return fmt.Errorf("chdir %s: %w", rootfs, err)
		}
		if err := unix.Mount(rootfs, "/", "", unix.MS_MOVE, ""); err != nil {
			return fmt.Errorf("mount --move %s /: %w", rootfs, err)
		}
		if err := unix.Chroot("."); err != nil {
			return fmt.Errorf("chroot: %w", err)
		}
		return wrap("chdir /", unix.Chdir("/"))
	}()
	done(err)
	return err
}

// maskPaths hides the spec's masked paths: /dev/null over a file, an empty read-only tmpfs
// over a directory. After pivot_root every path resolves inside the container's root. The
// /dev/null used is checked to be the real device (a symlink or a planted file there would
// otherwise be bound over the masked path; runc's CVE-2025-31133).
func (in *initProcess) maskPaths() error {
	if len(in.spec.Linux.MaskedPaths) == 0 {
		return nil
	}
	null, err := unix.Open("/dev/null", unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err == nil {
		var st unix.Stat_t
		if err = unix.Fstat(null, &st); err == nil && (st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3)) {
			err = errors.New("/dev/null is not the null device")
		}
	}
	if err != nil {
		return fmt.Errorf("linux.maskedPaths: /dev/null: %w", err)
	}
	defer unix.Close(null)
	nullPath := "/proc/thread-self/fd/" + strconv.Itoa(null)
	for _, p := range in.spec.Linux.MaskedPaths {
		fd, err := unix.Open(p, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return fmt.Errorf("linux.maskedPaths: open %s: %w", p, err)
		}
		var st unix.Stat_t
		unix.Fstat(fd, &st)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			err = in.mountAt("tmpfs", fd, p, "tmpfs", unix.MS_RDONLY, "size=0,mode=0555")
		case unix.S_IFLNK:
			// A symlink is not followed: it is masked by nothing, and what it names inside
			// the container is not what the spec asked to hide. Refuse.
			err = fmt.Errorf("%s is a symlink", p)
		default:
			err = in.mountAt(nullPath, fd, p, "", unix.MS_BIND, "")
		}
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("linux.maskedPaths: %w", err)
		}
	}
	return nil
}

// readonlyPaths bind-mounts each path on itself and remounts it read-only.
func (in *initProcess) readonlyPaths() error {
	for _, p := range in.spec.Linux.ReadonlyPaths {
		fd, err := unix.Open(p, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return fmt.Errorf("linux.readonlyPaths: open %s: %w", p, err)
		}
		src := "/proc/thread-self/fd/" + strconv.Itoa(fd)
		err = in.mountAt(src, fd, p, "", unix.MS_BIND|unix.MS_REC, "")
		unix.Close(fd)
		if err == nil {
			// The root is the container's now: reopening p reaches the new mount.
			var top int
			top, err = unix.Open(p, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err == nil {
				err = in.mountAt("", top, p, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
				unix.Close(top)
			}
		}
		if err != nil {
			return fmt.Errorf("linux.readonlyPaths: %w", err)
		}
	}
	return nil
}

// waitHooks stops before pivot_root while the parent runs the createRuntime hooks.
func (in *initProcess) waitHooks() error {
	if err := sendMessage(in.syncFD, initMessage{Type: msgHooks, Steps: in.rec.Steps()}, nil); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	in.rec = newRecorderLike(in.rec)
	var m initMessage
	if _, err := recvMessage(in.syncFD, &m); err != nil || m.Type != msgContinue {
		return fmt.Errorf("sync: wait for hooks: %v", err)
	}
	return nil
}
