package runtime

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// sealedSelf returns a descriptor of the running glassbox binary that nobody can write
// through, for the init to be executed from (CVE-2019-5736: while the init runs glassbox, a
// process in the container can reach the binary as /proc/PID/exe, hold it open and write it
// once it exits). runc 1.2 (libcontainer/dmz) avoids a per-start copy of its big binary with
// a read-only mount of it; this does the same with a detached clone of the binary's mount
// (open_tree(2) OPEN_TREE_CLONE) made read-only with mount_setattr(2): no copy, nothing in
// any mount table, and a write through /proc/PID/exe fails with EROFS. Where the kernel lacks
// those calls, it falls back to runc's other answer: a sealed memfd copy.
func sealedSelf() (*os.File, string, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, "/proc/self/exe", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err == nil {
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
		if err = unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err == nil {
			f, err := aboveChildFiles(fd, "glassbox (read-only mount)")
			unix.Close(fd)
			return f, "open_tree+mount_setattr ro", err
		}
		unix.Close(fd)
	}
	m, merr := memfdCopy()
	if merr != nil {
		return nil, "", fmt.Errorf("seal the glassbox binary: open_tree: %v; memfd: %w", err, merr)
	}
	f, err := aboveChildFiles(int(m.Fd()), m.Name())
	m.Close()
	return f, "sealed memfd copy", err
}

// aboveChildFiles moves fd to a number above the few the init is started with (stdio, the
// sync socket, the fifo, nsenter's config socket), so that /proc/self/fd/N still names the
// binary in the child when it is executed: os.StartProcess dup2s the child's files onto the
// low numbers first. The caller closes fd.
func aboveChildFiles(fd int, name string) (*os.File, error) {
	high, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 100)
	if err != nil {
		return nil, fmt.Errorf("seal the glassbox binary: fcntl F_DUPFD_CLOEXEC: %w", err)
	}
	return os.NewFile(uintptr(high), name), nil
}

func memfdCopy() (*os.File, error) {
	fd, err := unix.MemfdCreate("glassbox", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	m := os.NewFile(uintptr(fd), "glassbox (sealed memfd)")
	self, err := os.Open("/proc/self/exe")
	if err != nil {
		m.Close()
		return nil, err
	}
	defer self.Close()
	if _, err := io.Copy(m, self); err != nil {
		m.Close()
		return nil, fmt.Errorf("copy binary: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(m.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		m.Close()
		return nil, fmt.Errorf("seal memfd: %w", err)
	}
	return m, nil
}
