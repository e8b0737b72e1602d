package nsenter

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// readOnlyBinary returns a descriptor of path on a read-only, detached bind mount of itself,
// for the helper to be executed from. The helper runs glassbox inside the target's
// namespaces until it executes the program, and a process there could open /proc/HELPER/exe
// (or keep an O_PATH descriptor of it and reopen it once the helper is gone) to write to the
// binary: CVE-2019-5736 overwrote runc that way. Executed from this mount, /proc/PID/exe
// names a file no one can open for writing (EROFS), while the helper costs no copy of the
// binary. runc 1.2 does the same with an overlayfs mount (libcontainer/dmz), runc 1.1 with a
// bind mount it detached; open_tree(2) makes the detached mount in one step.
//
// The mount is in no mount namespace: it goes when the last descriptor and the last process
// executing from it do. The descriptor is moved to at least minFD (and is close-on-exec),
// above the numbers os.StartProcess dup2s the child's files to, so that
// /proc/self/fd/N still names it in the child at execve. EPERM: not privileged to mount.
func readOnlyBinary(path string, minFD int) (int, error) {
	tree, err := unix.OpenTree(unix.AT_FDCWD, path, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		if err == unix.EPERM {
			return -1, err
		}
		return -1, fmt.Errorf("open_tree %s: %w", path, err)
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NODEV}
	if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		unix.Close(tree)
		return -1, fmt.Errorf("mount_setattr read-only on the clone of %s: %w", path, err)
	}
	fd, err := unix.FcntlInt(uintptr(tree), unix.F_DUPFD_CLOEXEC, minFD+64)
	unix.Close(tree)
	if err != nil {
		return -1, fmt.Errorf("fcntl F_DUPFD_CLOEXEC: %w", err)
	}
	return fd, nil
}
