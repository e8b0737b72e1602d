// Package lsm applies a process's Linux security module settings (the runtime-spec's
// process.apparmorProfile and process.selinuxLabel) the way runc's libcontainer does: by
// writing the profile or label to the calling thread's attr/exec under procfs, which the
// kernel applies at the thread's next execve (proc(5), /proc/pid/attr). A host without the
// module is told apart up front, so that a caller can refuse the spec before it makes
// anything. The C init (nsenter/initc_process.c, initc_lsm_exec) writes the same files.
package lsm

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// selinuxMagic is selinuxfs's statfs f_type (linux/magic.h SELINUX_MAGIC).
const selinuxMagic = 0xf97cff8c

// AppArmorEnabled says whether AppArmor is enabled on this host: the module's "enabled"
// parameter is Y (runc's apparmor.IsEnabled reads the same file).
func AppArmorEnabled() bool {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && bytes.HasPrefix(b, []byte("Y"))
}

// SELinuxEnabled says whether SELinux is enabled: selinuxfs is mounted at /sys/fs/selinux,
// which the kernel only offers with SELinux initialised (go-selinux checks the same).
func SELinuxEnabled() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/selinux", &st) == nil && uint32(st.Type) == selinuxMagic
}

// CheckAppArmor and CheckSELinux return an error naming field when the host cannot apply
// the setting: runc refuses an AppArmor profile or an SELinux label the host has no module
// for, rather than run the process unconfined.
func CheckAppArmor(field, profile string) error {
	if profile != "" && !AppArmorEnabled() {
		return fmt.Errorf("%s: AppArmor profile %q given but AppArmor is not enabled on this host (/sys/module/apparmor/parameters/enabled is not Y)", field, profile)
	}
	return nil
}

func CheckSELinux(field, label string) error {
	if label != "" && !SELinuxEnabled() {
		return fmt.Errorf("%s: SELinux label %q given but SELinux is not enabled on this host (no selinuxfs at /sys/fs/selinux)", field, label)
	}
	return nil
}

// Kinds of SetExec, plan.go's and initc's LSM_* too.
const (
	AppArmor = 1
	SELinux  = 2
)

// SetExec makes the calling thread's next execve apply an AppArmor profile ("exec PROFILE"
// to attr/apparmor/exec, or to attr/exec on kernels without per-module directories) or an
// SELinux label (to attr/exec). The caller has its goroutine locked to its thread. The file
// is opened under a checked procfs at /proc by PID and TID, with no symlink and no other
// mount on the way (thread-self is a symlink itself), so that a mount or link inside the
// container cannot send the write elsewhere.
func SetExec(kind int, value string) error {
	var paths []string
	data := value
	switch kind {
	case AppArmor:
		paths, data = []string{"attr/apparmor/exec", "attr/exec"}, "exec "+value
	case SELinux:
		paths = []string{"attr/exec"}
	default:
		return fmt.Errorf("unknown security module %d", kind)
	}
	task := "/proc/" + strconv.Itoa(unix.Getpid()) + "/task/" + strconv.Itoa(unix.Gettid()) + "/"
	for i, p := range paths {
		err := WriteProc(task+p, data)
		if errors.Is(err, unix.ENOENT) && i+1 < len(paths) {
			continue
		}
		return err
	}
	return nil
}

// WriteProc writes a file of the procfs at /proc and nowhere else (CVE-2025-52881's class):
// /proc must be a procfs, and the file is opened under it with no symlink and no other mount on
// the way, so that a mount over /proc/sys or /proc/self/attr (an image symlink at a volume's
// destination leads one there) cannot send the write to another file. Worded as the C init's
// initc_write_sysctl, which does the same; the Go init's sysctls go through here too.
func WriteProc(p, data string) error {
	proc, err := unix.Open("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("write %s: open /proc: %w", p, err)
	}
	defer unix.Close(proc)
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(proc, &sfs); err != nil {
		return fmt.Errorf("write %s: fstatfs /proc: %w", p, err)
	}
	if sfs.Type != unix.PROC_SUPER_MAGIC {
		return fmt.Errorf("write %s: /proc is not a procfs", p)
	}
	fd, err := unix.Openat2(proc, strings.TrimPrefix(p, "/proc/"), &unix.OpenHow{Flags: unix.O_WRONLY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_XDEV})
	if err != nil {
		return fmt.Errorf("write %s: open %s: %w", p, p, err)
	}
	defer unix.Close(fd)
	n, err := unix.Write(fd, []byte(data))
	if err == nil && n != len(data) {
		err = unix.EIO
	}
	if err != nil {
		return fmt.Errorf("write %s: write %s: %w", p, p, err)
	}
	return nil
}
