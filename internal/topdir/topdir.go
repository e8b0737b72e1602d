// Package topdir marks the directories whose every child is a hierarchy of its own (each
// container's directory, each runtime state directory) as the top of directory hierarchies
// for ext2/3/4's Orlov allocator (chattr +T): a directory made in one is placed in a block
// group of the allocator's choosing, not next to its parent.
//
// Each `run --rm` makes and removes ~35 inodes. On an ext4 without a journal the allocator
// skips every inode freed in the last minutes (recently_deleted), reading each one's
// on-disk record, so in a group where thousands were freed (by glassbox's own runs, or by a
// build or test suite that shares the group) each new inode cost a scan: a quarter of a run's
// CPU after a test suite here. Spread over groups, the scans stay short.
package topdir

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// fsTopdirFL is FS_TOPDIR_FL of linux/fs.h.
const fsTopdirFL = 0x00020000

// Mark sets the flag on dir unless it is set. A file system without it (tmpfs, xfs, btrfs,
// overlayfs) is left as it is: nil. An error is anything else (a dir that cannot be
// opened, a refusal to set the flag).
func Mark(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL) {
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "get flags", Path: dir, Err: err}
	}
	if flags&fsTopdirFL != 0 {
		return nil
	}
	err = unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(flags|fsTopdirFL))
	if errors.Is(err, unix.EOPNOTSUPP) {
		return nil // flags, but not this one (tmpfs)
	}
	if err != nil {
		return &os.PathError{Op: "set FS_TOPDIR_FL", Path: dir, Err: err}
	}
	return nil
}
