package runtime

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/cgroups"
)

// Watch is what a streaming `oci events` waits on instead of polling: OOM wakes it when the
// kernel's OOM machinery acts in the container's memory cgroup (nil when the container has
// none), Exited is closed when the container's init ends.
type Watch struct {
	OOM    *cgroups.OOMWatch
	Exited <-chan struct{}
	pidfd  int
	stop   int
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
	pidfd, err := unix.PidfdOpen(rec.Pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil, ErrStopped
	}
	if err != nil {
		return nil, fmt.Errorf("watch %s: pidfd_open %d: %w", id, rec.Pid, err)
	}
	if !rec.alive() {
		unix.Close(pidfd)
		return nil, ErrStopped
	}
	stop, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(pidfd)
		return nil, fmt.Errorf("watch %s: eventfd: %w", id, err)
	}
	exited := make(chan struct{})
	w := &Watch{Exited: exited, pidfd: pidfd, stop: stop, done: make(chan struct{})}
	if len(rec.CgroupPaths) > 0 {
		if cg, err := cgroups.Load(rec.CgroupPaths); err == nil {
			w.OOM, _ = cg.NotifyOOM() // no memory controller: no OOM to report
		}
	}
	go w.waitExit(exited)
	return w, nil
}

// waitExit closes exited when the pidfd reports the init's end (poll(2) POLLIN, pidfd_open(2)),
// or returns when Close signals stop.
func (w *Watch) waitExit(exited chan<- struct{}) {
	defer close(w.done)
	fds := []unix.PollFd{{Fd: int32(w.pidfd), Events: unix.POLLIN}, {Fd: int32(w.stop), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil || fds[0].Revents != 0 {
			close(exited)
		}
		return
	}
}

// Close ends the watch.
func (w *Watch) Close() {
	unix.Write(w.stop, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	<-w.done
	unix.Close(w.pidfd)
	unix.Close(w.stop)
	if w.OOM != nil {
		w.OOM.Close()
	}
}
