package runtime

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/trace"
)

// Idmapped mounts (runtime-spec mounts[].uidMappings and gidMappings, or the options idmap
// and ridmap with the container's own mappings), as runc 1.2 makes them: the parent clones
// the bind mount's source detached (open_tree OPEN_TREE_CLONE), gives it the mappings of a
// user namespace made for them (mount_setattr MOUNT_ATTR_IDMAP), and hands the init the
// detached mount, which it attaches on the target opened inside the rootfs (move_mount).
// The parent does it because mount_setattr needs CAP_SYS_ADMIN over the source filesystem's
// user namespace, which an init in a user namespace of its own lacks (mount_setattr(2)).

// UsernsEntry is the hidden re-exec entry of the process that holds a user namespace with a
// mount's mappings while the parent opens it (cmd/glassbox registers UsernsMain).
const UsernsEntry = "runtime-userns"

// UsernsMain blocks until its stdin, a pipe of the parent, reaches its end.
func UsernsMain([]string) int {
	var b [1]byte
	for {
		if _, err := os.Stdin.Read(b[:]); err != nil {
			return 0
		}
	}
}

// idmapOf returns the mappings of mount m when it is idmapped: its own, else (option idmap
// or ridmap) the container's; recursive is ridmap: every mount of an rbind is idmapped.
func idmapOf(s *specs.Spec, m specs.Mount) (uids, gids []specs.LinuxIDMapping, recursive, ok bool) {
	opt := slices.Contains(m.Options, "idmap")
	recursive = slices.Contains(m.Options, "ridmap")
	if len(m.UIDMappings)+len(m.GIDMappings) == 0 && !opt && !recursive {
		return nil, nil, false, false
	}
	uids, gids = m.UIDMappings, m.GIDMappings
	if len(uids)+len(gids) == 0 {
		uids, gids = s.Linux.UIDMappings, s.Linux.GIDMappings
	}
	return uids, gids, recursive, true
}

// checkIDMap is runc's checkIDMapMounts for mounts[i]: bind mounts only, with both uid and
// gid mappings (their own, or the container's for idmap and ridmap).
func checkIDMap(s *specs.Spec, i int, m specs.Mount) error {
	uids, gids, _, ok := idmapOf(s, m)
	if !ok {
		return nil
	}
	if !isBind(m) {
		return fmt.Errorf("mounts[%d]: idmapped mounts are only supported for bind mounts", i)
	}
	if len(uids) == 0 || len(gids) == 0 {
		if len(m.UIDMappings)+len(m.GIDMappings) == 0 {
			if joinedUserNS(s) != "" {
				return nil // the joined user namespace's mappings, as runc takes them
			}
			return fmt.Errorf("mounts[%d].options: idmap without uidMappings and gidMappings needs the container's own (linux.uidMappings, or a user namespace joined by path)", i)
		}
		return fmt.Errorf("mounts[%d].uidMappings: idmapped mounts need both uidMappings and gidMappings", i)
	}
	for _, mp := range append(slices.Clone(uids), gids...) {
		if mp.Size == 0 {
			return fmt.Errorf("mounts[%d].uidMappings: a mapping of size 0", i)
		}
	}
	return nil
}

// joinedUserNS is the path of the user namespace the container joins, if any.
func joinedUserNS(s *specs.Spec) string {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.UserNamespace && ns.Path != "" {
			return ns.Path
		}
	}
	return ""
}

// idmappedMounts makes the detached idmapped mount of every such spec mount, in order; the
// map says which mount each file is. The files are the caller's to close (a detached mount
// nobody attached goes with its last descriptor). exe runs the user namespace holders.
func idmappedMounts(s *specs.Spec, exe string, rec *trace.Recorder) (files []*os.File, index map[int]int, err error) {
	defer func() {
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			files = nil
		}
	}()
	users := map[string]*os.File{} // a user namespace per distinct mapping
	defer func() {
		for _, f := range users {
			f.Close()
		}
	}()
	for i, m := range s.Mounts {
		uids, gids, recursive, ok := idmapOf(s, m)
		if !ok {
			continue
		}
		key := mapString(uids) + ";" + mapString(gids)
		ns := users[key]
		if ns == nil && len(uids) == 0 {
			// idmap with no mappings anywhere: the joined user namespace's (checkIDMap).
			path := joinedUserNS(s)
			if ns, err = os.Open(path); err != nil {
				return files, nil, fmt.Errorf("mounts[%d] (%s): idmap: open the joined user namespace: %w", i, m.Destination, err)
			}
			users[key] = ns
		}
		if ns == nil {
			began := time.Now()
			ns, err = userns(exe, uids, gids)
			rec.Record("userns", "a user namespace with uid map "+mapString(uids)+", gid map "+mapString(gids)+" for idmapped mounts", began, err)
			if err != nil {
				return files, nil, fmt.Errorf("mounts[%d] (%s): %w", i, m.Destination, err)
			}
			users[key] = ns
		}
		began := time.Now()
		f, err := idmapped(m, ns, recursive)
		rec.Record("idmap", fmt.Sprintf("%s: open_tree OPEN_TREE_CLONE, mount_setattr MOUNT_ATTR_IDMAP (uid map %s, gid map %s)", m.Source, mapString(uids), mapString(gids)), began, err)
		if err != nil {
			return files, nil, fmt.Errorf("mounts[%d] (%s): %w", i, m.Destination, err)
		}
		if index == nil {
			index = map[int]int{}
		}
		index[i] = len(files)
		files = append(files, f)
	}
	return files, index, nil
}

// idmapped clones m's source, detached, and maps its owners through the user namespace ns.
func idmapped(m specs.Mount, ns *os.File, recursive bool) (*os.File, error) {
	flags, _, _, _ := parseMountOptions(m.Options)
	clone := unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC
	if flags&unix.MS_REC != 0 {
		clone |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, m.Source, uint(clone))
	if err != nil {
		return nil, fmt.Errorf("idmapped mount of %s: open_tree: %w", m.Source, err)
	}
	at := unix.AT_EMPTY_PATH
	if recursive {
		at |= unix.AT_RECURSIVE
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(ns.Fd())}
	if err := unix.MountSetattr(fd, "", uint(at), &attr); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EINVAL) {
			var st unix.Statfs_t
			unix.Statfs(m.Source, &st)
			return nil, fmt.Errorf("idmapped mount of %s: mount_setattr MOUNT_ATTR_IDMAP: %w (the filesystem, type 0x%x, cannot be idmapped)", m.Source, err, st.Type)
		}
		return nil, fmt.Errorf("idmapped mount of %s: mount_setattr MOUNT_ATTR_IDMAP: %w", m.Source, err)
	}
	return os.NewFile(uintptr(fd), "idmapped "+m.Source), nil
}

// userns returns a user namespace with the mappings: a process is started in a new one (the
// kernel writes no maps for a namespace without a process), the namespace opened, the
// process ended.
func userns(exe string, uids, gids []specs.LinuxIDMapping) (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer w.Close()
	p, err := os.StartProcess(exe, []string{"glassbox", UsernsEntry}, &os.ProcAttr{
		Files: []*os.File{r, nil, os.Stderr}, Env: []string{},
		Sys: &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER, UidMappings: idMaps(uids), GidMappings: idMaps(gids),
			Pdeathsig: unix.SIGKILL},
	})
	r.Close()
	if err != nil {
		return nil, fmt.Errorf("start a user namespace for the mappings: %w", err)
	}
	defer p.Wait()
	defer p.Kill()
	f, err := os.Open("/proc/" + strconv.Itoa(p.Pid) + "/ns/user")
	if err != nil {
		return nil, fmt.Errorf("open the mappings' user namespace: %w", err)
	}
	return f, nil
}
