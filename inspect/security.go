package inspect

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
)

// capNames are capabilities(7)'s names by bit number (include/uapi/linux/capability.h).
var capNames = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
	"CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE"}

// KnownCapNames are the capabilities this package names, in bit order (a copy).
func KnownCapNames() []string { return append([]string(nil), capNames...) }

// CapNames decodes a capability mask; bits this table does not know are named "CAP_<bit>".
func CapNames(mask uint64) []string {
	out := []string{}
	for bit := 0; bit < 64; bit++ {
		if mask&(1<<bit) == 0 {
			continue
		}
		if bit < len(capNames) {
			out = append(out, capNames[bit])
		} else {
			out = append(out, "CAP_"+strconv.Itoa(bit))
		}
	}
	return out
}

// CapSet is one capability set: the mask as /proc/PID/status shows it and its names.
type CapSet struct {
	Mask  string   `json:"mask"`
	Names []string `json:"names"`
}

// IDMapLine is one line of uid_map or gid_map (user_namespaces(7)).
type IDMapLine struct {
	Inside  uint32 `json:"inside"`
	Outside uint32 `json:"outside"`
	Count   uint32 `json:"count"`
}

// Security is a process's credentials and confinement.
type Security struct {
	UID             [4]uint32   `json:"uid"` // real, effective, saved, filesystem
	GID             [4]uint32   `json:"gid"`
	User            string      `json:"user"` // the effective UID's name on this host, if any
	Groups          []uint32    `json:"groups"`
	Inheritable     CapSet      `json:"inheritable"`
	Permitted       CapSet      `json:"permitted"`
	Effective       CapSet      `json:"effective"`
	Bounding        CapSet      `json:"bounding"`
	Ambient         CapSet      `json:"ambient"`
	NoNewPrivs      bool        `json:"noNewPrivs"`
	Seccomp         string      `json:"seccomp"` // disabled, strict or filter (proc(5))
	SeccompFilters  int         `json:"seccompFilters"`
	UIDMap          []IDMapLine `json:"uidMap"`
	GIDMap          []IDMapLine `json:"gidMap"`
	AppArmorProfile string      `json:"apparmor,omitempty"`
}

// Security reads pid's credentials from /proc/PID/status, uid_map and gid_map.
func (h Host) Security(pid int) (Security, error) {
	b, err := h.readProcFile(pid, "status")
	if err != nil {
		return Security{}, err
	}
	st := statusFields(b)
	var s Security
	s.UID = parseIDs(st["Uid"])
	s.GID = parseIDs(st["Gid"])
	for _, g := range strings.Fields(st["Groups"]) {
		if v, err := strconv.ParseUint(g, 10, 32); err == nil {
			s.Groups = append(s.Groups, uint32(v))
		}
	}
	if u, err := user.LookupId(strconv.Itoa(int(s.UID[1]))); err == nil && h.Root == "" {
		s.User = u.Username
	}
	for _, c := range []struct {
		key string
		set *CapSet
	}{{"CapInh", &s.Inheritable}, {"CapPrm", &s.Permitted}, {"CapEff", &s.Effective},
		{"CapBnd", &s.Bounding}, {"CapAmb", &s.Ambient}} {
		mask, err := strconv.ParseUint(st[c.key], 16, 64)
		if err != nil {
			return s, fmt.Errorf("/proc/%d/status %s %q: %w", pid, c.key, st[c.key], err)
		}
		*c.set = CapSet{Mask: st[c.key], Names: CapNames(mask)}
	}
	s.NoNewPrivs = st["NoNewPrivs"] == "1"
	switch st["Seccomp"] {
	case "0":
		s.Seccomp = "disabled"
	case "1":
		s.Seccomp = "strict"
	case "2":
		s.Seccomp = "filter"
	}
	s.SeccompFilters, _ = strconv.Atoi(st["Seccomp_filters"])
	if s.UIDMap, err = h.idMap(pid, "uid_map"); err != nil {
		return s, err
	}
	if s.GIDMap, err = h.idMap(pid, "gid_map"); err != nil {
		return s, err
	}
	if b, err := os.ReadFile(h.procPath(pid, "attr/current")); err == nil {
		s.AppArmorProfile = strings.TrimSpace(strings.TrimRight(string(b), "\x00"))
	}
	return s, nil
}

func parseIDs(s string) [4]uint32 {
	var out [4]uint32
	for i, f := range strings.Fields(s) {
		if i < 4 {
			v, _ := strconv.ParseUint(f, 10, 32)
			out[i] = uint32(v)
		}
	}
	return out
}

func (h Host) idMap(pid int, file string) ([]IDMapLine, error) {
	b, err := h.readProcFile(pid, file)
	if err != nil {
		return nil, err
	}
	var out []IDMapLine
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		var v [3]uint64
		for i := range f {
			v[i], _ = strconv.ParseUint(f[i], 10, 32)
		}
		out = append(out, IDMapLine{uint32(v[0]), uint32(v[1]), uint32(v[2])})
	}
	return out, nil
}
