package snapshot

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// OverlaySupported reports whether the kernel has overlayfs (it may need loading; a mount
// attempt is the real test).
func OverlaySupported() bool {
	b, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(strings.TrimPrefix(line, "nodev")) == "overlay" {
			return true
		}
	}
	// Not listed until the module loads; mounting would load it.
	_, err = os.Stat("/sys/module/overlay")
	return err == nil
}

// OverlayMount says how a rootfs was mounted, for the trace and the Layers tab.
type OverlayMount struct {
	// Method is "fsconfig lowerdir+" (the new mount API, one lower per call, no length
	// limit), "mount(2)" (one option string), or "mount(2) via /proc/self/fd" (lower paths
	// replaced by short fd paths to fit the option page).
	Method string
	// Data is the option string handed to mount(2), empty with the new API.
	Data string
}

// legacyOnly forces the mount(2) path (tests of the fallback set it).
var legacyOnly = false

// MountOverlay mounts an overlayfs at target: lowers topmost first (as LowerDirs returns
// them), then upper and work, which must be empty directories on one filesystem (both empty
// strings give a read-only mount, which needs at least two lowers).
//
// It uses the new mount API first (fsopen/fsconfig/fsmount/move_mount, Linux 5.2) adding
// lowers one "lowerdir+" at a time (Linux 6.8), so an image of any number of layers mounts
// regardless of the one-page limit on mount(2)'s option string. On older kernels it falls
// back to mount(2); when the lowerdir list does not fit in a page it opens each lower and
// passes its /proc/self/fd/N path, which overlayfs resolves like any path.
func MountOverlay(lowers []string, upper, work, target string) (OverlayMount, error) {
	if len(lowers) == 0 {
		return OverlayMount{}, errors.New("mount overlay: no lower directories")
	}
	if (upper == "") != (work == "") {
		return OverlayMount{}, errors.New("mount overlay: upperdir and workdir go together")
	}
	if !legacyOnly {
		err := mountFsconfig(lowers, upper, work, target)
		if err == nil {
			return OverlayMount{Method: "fsconfig lowerdir+"}, nil
		}
		if !errors.Is(err, errNoLowerdirPlus) {
			return OverlayMount{}, err
		}
	}
	return mountLegacy(lowers, upper, work, target)
}

var errNoLowerdirPlus = errors.New("kernel lacks the new mount API or lowerdir+")

func mountFsconfig(lowers []string, upper, work, target string) error {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if errors.Is(err, unix.ENOSYS) {
		return errNoLowerdirPlus
	}
	if err != nil {
		return fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(fd)
	for i, l := range lowers {
		if err := unix.FsconfigSetString(fd, "lowerdir+", l); err != nil {
			if i == 0 && errors.Is(err, unix.EINVAL) {
				return errNoLowerdirPlus // a kernel before 6.8 does not know the key
			}
			return fmt.Errorf("fsconfig lowerdir+ %s: %w%s", l, err, fsLog(fd))
		}
	}
	if upper != "" {
		if err := unix.FsconfigSetString(fd, "upperdir", upper); err != nil {
			return fmt.Errorf("fsconfig upperdir %s: %w%s", upper, err, fsLog(fd))
		}
		if err := unix.FsconfigSetString(fd, "workdir", work); err != nil {
			return fmt.Errorf("fsconfig workdir %s: %w%s", work, err, fsLog(fd))
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return fmt.Errorf("fsconfig create overlay: %w%s", err, fsLog(fd))
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("fsmount overlay: %w%s", err, fsLog(fd))
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount overlay to %s: %w", target, err)
	}
	return nil
}

// fsLog reads the messages the kernel queued on an fs context fd ("e overlay: ..."): they
// say what the errno does not.
func fsLog(fd int) string {
	var msgs []string
	buf := make([]byte, 1024)
	for i := 0; i < 8; i++ {
		n, err := unix.Read(fd, buf)
		if err != nil || n <= 0 {
			break
		}
		msgs = append(msgs, strings.TrimSpace(string(buf[:n])))
	}
	if len(msgs) == 0 {
		return ""
	}
	return " (" + strings.Join(msgs, "; ") + ")"
}

// escapeOption escapes the characters overlayfs splits its options on.
func escapeOption(s string) string {
	return strings.NewReplacer(`\`, `\\`, `:`, `\:`, `,`, `\,`).Replace(s)
}

func overlayData(lowers []string, upper, work string) string {
	esc := make([]string, len(lowers))
	for i, l := range lowers {
		esc[i] = escapeOption(l)
	}
	data := "lowerdir=" + strings.Join(esc, ":")
	if upper != "" {
		data += ",upperdir=" + escapeOption(upper) + ",workdir=" + escapeOption(work)
	}
	return data
}

func mountLegacy(lowers []string, upper, work, target string) (OverlayMount, error) {
	m := OverlayMount{Method: "mount(2)", Data: overlayData(lowers, upper, work)}
	if len(m.Data) >= os.Getpagesize() {
		// Hold each lower open and name it by its fd: "/proc/self/fd/N" is short, and the
		// kernel resolves it during mount(2), after which the fds may close.
		short := make([]string, len(lowers))
		for i, l := range lowers {
			fd, err := unix.Open(l, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return m, fmt.Errorf("open lowerdir %s: %w", l, err)
			}
			defer unix.Close(fd)
			short[i] = "/proc/self/fd/" + strconv.Itoa(fd)
		}
		m = OverlayMount{Method: "mount(2) via /proc/self/fd", Data: overlayData(short, upper, work)}
		if len(m.Data) >= os.Getpagesize() {
			return m, fmt.Errorf("mount overlay on %s: %d layers do not fit mount(2)'s option page on this kernel", target, len(lowers))
		}
	}
	if err := unix.Mount("overlay", target, "overlay", 0, m.Data); err != nil {
		return m, fmt.Errorf("mount overlay on %s: %w", target, err)
	}
	return m, nil
}

// Unmount unmounts a rootfs mounted by MountOverlay (or anything at target), without
// following a symlink at target. A target that is not mounted is not an error.
func Unmount(target string) error {
	err := unix.Unmount(target, unix.UMOUNT_NOFOLLOW)
	if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return fmt.Errorf("umount %s: %w", target, err)
}
