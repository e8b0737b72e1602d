package snapshot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

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

// ClearVolatile lets an upper directory that was mounted volatile be mounted again. overlayfs
// leaves $workdir/work/incompat/volatile behind, even after a clean umount, and refuses that
// upper and work directory from then on ("overlay with incompat feature 'volatile' cannot be
// mounted"); the way back its authors give is to sync the upper's filesystem, then remove the
// directory (linux-unionfs, "ovl: provide a mount option volatile" thread). Writes a crash lost
// stay lost: it is for an upper whose contents are scratch (a --rm container's).
func ClearVolatile(upper, work string) error {
	marker := filepath.Join(work, "work", "incompat", "volatile")
	if _, err := os.Lstat(marker); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	fd, err := unix.Open(upper, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open upper directory %s: %w", upper, err)
	}
	err = unix.Syncfs(fd)
	unix.Close(fd)
	if err != nil {
		return fmt.Errorf("syncfs %s: %w", upper, err)
	}
	if err := os.RemoveAll(marker); err != nil {
		return fmt.Errorf("remove overlayfs's volatile marker %s: %w", marker, err)
	}
	return nil
}
