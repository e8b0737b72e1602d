package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// OOMWatch wakes its reader when the kernel's OOM machinery acts in a cgroup, instead of a
// poll of the counters: on v1 through an eventfd registered in cgroup.event_control for
// memory.oom_control (cgroup-v1/memory.rst, "Memory thresholds" and "OOM Control"), on
// cgroup2 through an inotify watch of memory.events, which the kernel marks modified when a
// counter in it changes (cgroup-v2.rst, "memory.events"). runc's notify_linux.go and
// notify_v2_linux.go do the same. A wake-up says only that something may have happened: the
// reader reads the counters to know what (an eventfd is also signalled when the cgroup is
// removed).
type OOMWatch struct {
	// C receives a value after each wake-up (a value already waiting absorbs more). It is
	// closed when the watch ends: Close, or the cgroup gone.
	C    <-chan struct{}
	f    *os.File // the eventfd or the inotify instance, non-blocking: in Go's poller, so Close ends a Read
	dir  string   // the memory cgroup's directory
	done chan struct{}
}

// NotifyOOM starts watching the cgroup's memory controller.
func (c *Cgroup) NotifyOOM() (*OOMWatch, error) {
	dir, v2 := c.controllerDir("memory")
	if dir == "" {
		return nil, errors.New("oom watch: the cgroup has no memory controller")
	}
	var fd int
	var err error
	if v2 {
		fd, err = watchMemoryEvents(dir)
	} else {
		fd, err = registerOOMEventfd(dir)
	}
	if err != nil {
		return nil, err
	}
	ch := make(chan struct{}, 1)
	w := &OOMWatch{C: ch, f: os.NewFile(uintptr(fd), "oom watch "+dir), dir: dir, done: make(chan struct{})}
	go w.run(ch, v2)
	return w, nil
}

// registerOOMEventfd asks a v1 memory cgroup to signal a new eventfd on OOM: the line
// "<eventfd> <fd of memory.oom_control>" written to cgroup.event_control. The kernel keeps
// its own references, so the memory.oom_control descriptor is closed at once.
func registerOOMEventfd(dir string) (int, error) {
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return -1, fmt.Errorf("oom watch: eventfd: %w", err)
	}
	control := filepath.Join(dir, "memory.oom_control")
	ofd, err := unix.Open(control, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(efd)
		return -1, fmt.Errorf("oom watch: open %s: %w", control, err)
	}
	defer unix.Close(ofd)
	line := strconv.Itoa(efd) + " " + strconv.Itoa(ofd)
	if err := writeFile(filepath.Join(dir, "cgroup.event_control"), line); err != nil {
		unix.Close(efd)
		return -1, fmt.Errorf("oom watch: %w", err)
	}
	return efd, nil
}

// watchMemoryEvents watches a cgroup2 memory.events for modification.
func watchMemoryEvents(dir string) (int, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return -1, fmt.Errorf("oom watch: inotify_init1: %w", err)
	}
	file := filepath.Join(dir, "memory.events")
	if _, err := unix.InotifyAddWatch(fd, file, unix.IN_MODIFY|unix.IN_DELETE_SELF|unix.IN_IGNORED); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("oom watch: inotify_add_watch %s: %w", file, err)
	}
	return fd, nil
}

// run reads the watch's descriptor until Close or the cgroup's removal (v1: the eventfd
// fires and cgroup.event_control is gone; cgroup2: the watch reports IN_IGNORED).
func (w *OOMWatch) run(ch chan<- struct{}, v2 bool) {
	defer close(w.done)
	defer close(ch)
	buf := make([]byte, 4096)
	for {
		n, err := w.f.Read(buf)
		if err != nil || n <= 0 {
			return
		}
		gone := !v2 && oomWatchGone(w.dir)
		if v2 {
			for off := 0; off+unix.SizeofInotifyEvent <= n; {
				ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
				if ev.Mask&(unix.IN_IGNORED|unix.IN_DELETE_SELF) != 0 {
					gone = true
				}
				off += unix.SizeofInotifyEvent + int(ev.Len)
			}
		}
		select {
		case ch <- struct{}{}:
		default:
		}
		if gone {
			return
		}
	}
}

// Close ends the watch and releases its descriptor; C is closed once it has.
func (w *OOMWatch) Close() error {
	err := w.f.Close()
	<-w.done
	return err
}

// oomWatchGone reports whether a v1 cgroup's directory went, which its eventfd also signals.
func oomWatchGone(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "cgroup.event_control"))
	return errors.Is(err, os.ErrNotExist)
}
