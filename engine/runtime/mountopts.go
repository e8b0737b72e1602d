package runtime

import (
	"fmt"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// mountFlags are the fstab options that are mount(2) flags; the bool says clear (true) or set.
var mountFlags = map[string]struct {
	clear bool
	flag  uintptr
}{
	"ro": {false, unix.MS_RDONLY}, "rw": {true, unix.MS_RDONLY},
	"nosuid": {false, unix.MS_NOSUID}, "suid": {true, unix.MS_NOSUID},
	"nodev": {false, unix.MS_NODEV}, "dev": {true, unix.MS_NODEV},
	"noexec": {false, unix.MS_NOEXEC}, "exec": {true, unix.MS_NOEXEC},
	"sync": {false, unix.MS_SYNCHRONOUS}, "async": {true, unix.MS_SYNCHRONOUS},
	"dirsync": {false, unix.MS_DIRSYNC}, "remount": {false, unix.MS_REMOUNT},
	"mand": {false, unix.MS_MANDLOCK}, "nomand": {true, unix.MS_MANDLOCK},
	"atime": {true, unix.MS_NOATIME}, "noatime": {false, unix.MS_NOATIME},
	"diratime": {true, unix.MS_NODIRATIME}, "nodiratime": {false, unix.MS_NODIRATIME},
	"bind": {false, unix.MS_BIND}, "rbind": {false, unix.MS_BIND | unix.MS_REC},
	"relatime": {false, unix.MS_RELATIME}, "norelatime": {true, unix.MS_RELATIME},
	"strictatime": {false, unix.MS_STRICTATIME}, "nostrictatime": {true, unix.MS_STRICTATIME},
	"silent": {false, unix.MS_SILENT}, "loud": {true, unix.MS_SILENT},
	"defaults": {false, 0},
}

var propagationFlags = map[string]uintptr{
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
	"unbindable": unix.MS_UNBINDABLE, "runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// parseMountOptions splits a spec mount's options into mount(2) flags, propagation flags
// (applied with a second call) and the data string for the filesystem.
func parseMountOptions(opts []string) (flags uintptr, propagation []uintptr, data string, err error) {
	var rest []string
	for _, o := range opts {
		if f, ok := mountFlags[o]; ok {
			if f.clear {
				flags &^= f.flag
			} else {
				flags |= f.flag
			}
			continue
		}
		if p, ok := propagationFlags[o]; ok {
			propagation = append(propagation, p)
			continue
		}
		if o == "idmap" || o == "ridmap" {
			continue // idmap.go's: the mount is idmapped, with the container's mappings
		}
		if strings.HasPrefix(o, "idmap") || strings.HasPrefix(o, "ridmap") {
			return 0, nil, "", fmt.Errorf("option %q is not supported (mappings go in uidMappings and gidMappings)", o)
		}
		if strings.ContainsRune(o, 0) {
			return 0, nil, "", fmt.Errorf("NUL in option %q", o)
		}
		rest = append(rest, o)
	}
	return flags, propagation, strings.Join(rest, ","), nil
}

// flagNames renders mount flags for the trace.
func flagNames(flags uintptr) string {
	names := []struct {
		f uintptr
		n string
	}{{unix.MS_RDONLY, "ro"}, {unix.MS_NOSUID, "nosuid"}, {unix.MS_NODEV, "nodev"},
		{unix.MS_NOEXEC, "noexec"}, {unix.MS_REMOUNT, "remount"}, {unix.MS_BIND, "bind"},
		{unix.MS_REC, "rec"}, {unix.MS_PRIVATE, "private"}, {unix.MS_SLAVE, "slave"},
		{unix.MS_SHARED, "shared"}, {unix.MS_MOVE, "move"}, {unix.MS_RELATIME, "relatime"},
		{unix.MS_STRICTATIME, "strictatime"}, {unix.MS_NOATIME, "noatime"}}
	var out []string
	for _, e := range names {
		if flags&e.f != 0 {
			out = append(out, e.n)
		}
	}
	if len(out) == 0 {
		return "0"
	}
	return strings.Join(out, ",")
}

var rlimitNames = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE,
	"RLIMIT_LOCKS": unix.RLIMIT_LOCKS, "RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK,
	"RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC,
	"RLIMIT_RSS": unix.RLIMIT_RSS, "RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}

// MountOptions lists the options parseMountOptions turns into mount(2) or propagation flags,
// sorted: what `oci features` reports as mountOptions. Any other option goes to the
// filesystem as data.
func MountOptions() []string {
	out := make([]string, 0, len(mountFlags)+len(propagationFlags))
	for o := range mountFlags {
		out = append(out, o)
	}
	for o := range propagationFlags {
		out = append(out, o)
	}
	sort.Strings(out)
	return out
}

// labeledMountData adds linux.mountLabel to a filesystem's mount data as SELinux's context=
// option, as runc's label.FormatMountLabel does for the mounts it labels: not proc and sysfs
// (which carry their own labels), nor mqueue (which runc labels with setfilecon instead).
// checkSpec refused a label on a host without SELinux.
func labeledMountData(m specs.Mount, data, label string) string {
	if label == "" || m.Type == "proc" || m.Type == "sysfs" || m.Type == "mqueue" {
		return data
	}
	if data != "" {
		data += ","
	}
	return data + `context="` + label + `"`
}
