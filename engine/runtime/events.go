package runtime

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/cgroups"
)

// Watch is what a streaming `oci events` waits on instead of polling: OOM wakes it when the
// kernel's OOM machinery acts in the container's memory cgroup (nil when the container has
// none), Exited is closed when the container's init ends.
type Watch struct {
	OOM    *cgroups.OOMWatch
	Exited <-chan struct{}
	pidfd  *os.File // non-blocking: in Go's poller, so Close ends the wait
	done   chan struct{}
}

// ErrStopped is Watch's answer for a container that is not running.
var ErrStopped = errors.New("the container is not running")

// Watch starts watching a running container. Its init is held by a pidfd opened before the
// record's PID and start time are checked again, so a PID reused in between cannot stand in
// for it.
func (r *Runtime) Watch(id string) (*Watch, error) {
	rec, err := r.load(id)
	if err != nil {
		return nil, err
	}
	if rec.Pid <= 0 {
		return nil, ErrStopped
	}
	fd, err := unix.PidfdOpen(rec.Pid, unix.PIDFD_NONBLOCK)
	if errors.Is(err, unix.ESRCH) {
		return nil, ErrStopped
	}
	if err != nil {
		return nil, fmt.Errorf("watch %s: pidfd_open %d: %w", id, rec.Pid, err)
	}
	pidfd := os.NewFile(uintptr(fd), "pidfd "+id)
	if !rec.alive() {
		pidfd.Close()
		return nil, ErrStopped
	}
	exited := make(chan struct{})
	w := &Watch{Exited: exited, pidfd: pidfd, done: make(chan struct{})}
	if len(rec.CgroupPaths) > 0 {
		if cg, err := cgroups.Load(rec.CgroupPaths); err == nil {
			w.OOM, _ = cg.NotifyOOM() // no memory controller: no OOM to report
		}
	}
	go w.waitExit(exited)
	return w, nil
}

// waitExit closes exited when the pidfd reports the init's end (readable, pidfd_open(2)), or
// returns when Close closes the pidfd. A pidfd cannot be read, so the wait goes through the
// raw connection: the callback says "not ready" until poll(2) sees it readable.
func (w *Watch) waitExit(exited chan<- struct{}) {
	defer close(w.done)
	rc, err := w.pidfd.SyscallConn()
	if err != nil {
		return
	}
	ended := false
	err = rc.Read(func(fd uintptr) bool {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, _ := unix.Poll(fds, 0)
		ended = n > 0
		return ended
	})
	if err == nil && ended {
		close(exited)
	}
}

// Close ends the watch.
func (w *Watch) Close() {
	w.pidfd.Close()
	<-w.done
	if w.OOM != nil {
		w.OOM.Close()
	}
}
