package snapshot

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// MountOverlayVolatile is MountOverlay with overlayfs's "volatile" option (Linux 5.10;
// Documentation/filesystems/overlayfs.rst, "Volatile mount"): the upper filesystem is never
// synced, not even at umount, where an ordinary overlay syncs the whole filesystem its upper
// directory lives on (every program's dirty data on it, not only the container's: 1-25 ms on
// a busy disk). It is for an upper directory that dies with its container (run --rm): after a
// crash the kernel refuses to mount that upper again, and nothing needs to. Where the kernel
// or the new mount API lacks the option, the mount is an ordinary one.
func MountOverlayVolatile(lowers []string, upper, work, target string) (OverlayMount, error) {
	if len(lowers) == 0 || upper == "" || work == "" || legacyOnly {
		return MountOverlay(lowers, upper, work, target)
	}
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return MountOverlay(lowers, upper, work, target)
	}
	defer unix.Close(fd)
	for _, l := range lowers {
		if err := unix.FsconfigSetString(fd, "lowerdir+", l); err != nil {
			return MountOverlay(lowers, upper, work, target) // before Linux 6.8
		}
	}
	if err := unix.FsconfigSetFlag(fd, "volatile"); err != nil {
		return MountOverlay(lowers, upper, work, target) // before Linux 5.10
	}
	if err := unix.FsconfigSetString(fd, "upperdir", upper); err != nil {
		return OverlayMount{}, fmt.Errorf("fsconfig upperdir %s: %w%s", upper, err, fsLog(fd))
	}
	if err := unix.FsconfigSetString(fd, "workdir", work); err != nil {
		return OverlayMount{}, fmt.Errorf("fsconfig workdir %s: %w%s", work, err, fsLog(fd))
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return OverlayMount{}, fmt.Errorf("fsconfig create overlay: %w%s", err, fsLog(fd))
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return OverlayMount{}, fmt.Errorf("fsmount overlay: %w%s", err, fsLog(fd))
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return OverlayMount{}, fmt.Errorf("move_mount overlay to %s: %w", target, err)
	}
	return OverlayMount{Method: "fsconfig lowerdir+ volatile"}, nil
}
