package runtime

import (
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"
)

// setupConsole makes the container's terminal as runc does: a pty from the container's own
// devpts (/dev/ptmx after pivot_root), the master sent to the parent over the sync socket
// (which passes it on to the console socket or returns it), the slave bound over /dev/console
// and made the controlling terminal and stdio of a new session.
func (in *initProcess) setupConsole() error {
	done := in.rec.Begin("console", "open /dev/ptmx, send master, slave is stdio and controlling tty")
	err := in.console()
	done(err)
	if err != nil {
		return fmt.Errorf("process.terminal: %w", err)
	}
	return nil
}

func (in *initProcess) console() error {
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/ptmx: %w", err)
	}
	defer unix.Close(master)
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		return fmt.Errorf("unlock pty: %w", err)
	}
	// TIOCGPTPEER opens the slave without a path a process in the container could swap.
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(master), unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	if errno != 0 {
		return fmt.Errorf("open pty slave: %w", errno)
	}
	slave := int(r)
	defer unix.Close(slave)
	if cs := in.spec.Process.ConsoleSize; cs != nil && cs.Height > 0 && cs.Width > 0 {
		ws := unix.Winsize{Row: uint16(cs.Height), Col: uint16(cs.Width)}
		if err := unix.IoctlSetWinsize(master, unix.TIOCSWINSZ, &ws); err != nil {
			return fmt.Errorf("set console size: %w", err)
		}
	}
	if err := sendMessage(in.syncFD, initMessage{Type: msgConsole}, unix.UnixRights(master)); err != nil {
		return fmt.Errorf("send pty master: %w", err)
	}
	// /dev/console is the slave, as on a real machine's console (runc does the same).
	// Over a file or a character device only, the node checked here and mounted on by its
	// descriptor (CVE-2025-52565: not a path looked up again); a symlink, a FIFO (whose open
	// for writing would block) or a directory is left alone. initc_console does the same.
	fd, err := unix.Open("/dev/console", unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		if f, cerr := unix.Open("/dev/console", unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600); cerr == nil {
			unix.Close(f)
			fd, err = unix.Open("/dev/console", unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		}
	}
	if err == nil {
		var st unix.Stat_t
		if unix.Fstat(fd, &st) == nil && (st.Mode&unix.S_IFMT == unix.S_IFREG || st.Mode&unix.S_IFMT == unix.S_IFCHR) {
			err = unix.Mount("/proc/thread-self/fd/"+strconv.Itoa(slave), "/proc/thread-self/fd/"+strconv.Itoa(fd), "", unix.MS_BIND, "")
		}
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("bind pty slave on /dev/console: %w", err)
		}
	}
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	if err := unix.IoctlSetInt(slave, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("set controlling terminal: %w", err)
	}
	for fd := 0; fd < 3; fd++ {
		if err := unix.Dup3(slave, fd, 0); err != nil {
			return fmt.Errorf("dup pty slave to %d: %w", fd, err)
		}
	}
	return nil
}
