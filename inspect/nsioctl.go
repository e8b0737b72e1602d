package inspect

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// nsRelations answers ioctl_ns(2) questions (NS_GET_PARENT, NS_GET_USERNS) about namespaces,
// caching answers by inode: namespaces outlive the processes asked about them only while
// someone holds them, but an inode is never reused while we hold the map.
type nsRelations struct {
	parent map[uint64]uint64 // 0: none (the initial namespace, or outside ours: EPERM)
	owner  map[uint64]uint64
}

func newNSRelations() *nsRelations {
	return &nsRelations{parent: map[uint64]uint64{}, owner: map[uint64]uint64{}}
}

func (r *nsRelations) close() {}

// ask opens /proc/PID/ns/TYPE and runs one ioctl on it, returning the resulting namespace's
// inode (0 for EPERM: "the parent is outside the caller's namespace", or ENOTTY/EINVAL for a
// type without a parent).
func ask(h Host, pid int, typ string, req uint) (uint64, error) {
	fd, err := unix.Open(h.procPath(pid, "ns/"+typ), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open /proc/%d/ns/%s: %w", pid, typ, err)
	}
	defer unix.Close(fd)
	nfd, err := unix.IoctlRetInt(fd, req)
	if err != nil {
		if err == unix.EPERM || err == unix.ENOTTY || err == unix.EINVAL {
			return 0, nil
		}
		return 0, fmt.Errorf("ioctl %#x on /proc/%d/ns/%s: %w", req, pid, typ, err)
	}
	defer unix.Close(nfd)
	var st unix.Stat_t
	if err := unix.Fstat(nfd, &st); err != nil {
		return 0, fmt.Errorf("fstat namespace of /proc/%d/ns/%s: %w", pid, typ, err)
	}
	return st.Ino, nil
}

// parentOf is the parent of pid's namespace of typ ("pid" or "user"), asked once per inode.
func (r *nsRelations) parentOf(h Host, pid int, typ string, ino uint64) (uint64, error) {
	if p, ok := r.parent[ino]; ok {
		return p, nil
	}
	p, err := ask(h, pid, typ, unix.NS_GET_PARENT)
	if err != nil {
		return 0, err
	}
	r.parent[ino] = p
	return p, nil
}

// ownerOf is the user namespace owning pid's namespace of typ.
func (r *nsRelations) ownerOf(h Host, pid int, typ string, ino uint64) (uint64, error) {
	if o, ok := r.owner[ino]; ok {
		return o, nil
	}
	o, err := ask(h, pid, typ, unix.NS_GET_USERNS)
	if err != nil {
		return 0, err
	}
	r.owner[ino] = o
	return o, nil
}

// below reports whether pid's PID namespace is nested (at any depth) in the one numbered
// target.
func (r *nsRelations) below(h Host, pid int, target uint64) bool {
	ino, err := h.nsInode(pid, "pid")
	if err != nil {
		return false
	}
	// Walk up from pid's namespace, each NS_GET_PARENT giving the next fd.
	fd, err := unix.Open(h.procPath(pid, "ns/pid"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer func() { unix.Close(fd) }()     // the fd the loop ends on
	for depth := 0; depth < 33; depth++ { // PID namespaces nest at most 32 deep
		if ino == target {
			return true
		}
		nfd, err := unix.IoctlRetInt(fd, unix.NS_GET_PARENT)
		if err != nil {
			return false
		}
		unix.Close(fd)
		fd = nfd
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil {
			return false
		}
		ino = st.Ino
	}
	return false
}
