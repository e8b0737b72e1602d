package nsenter

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// record is one decoded config record.
type record struct {
	typ     uint32
	payload []byte
}

func decode(t *testing.T, b []byte) []record {
	t.Helper()
	var out []record
	r := bytes.NewReader(b)
	for {
		var hdr [2]uint32
		if err := binary.Read(r, binary.NativeEndian, &hdr); err != nil {
			t.Fatalf("config ends without REC_END: %v", err)
		}
		p := make([]byte, hdr[1])
		if _, err := r.Read(p); err != nil && hdr[1] > 0 {
			t.Fatal(err)
		}
		out = append(out, record{hdr[0], p})
		if hdr[0] == recEnd {
			if r.Len() != 0 {
				t.Fatalf("%d bytes after REC_END", r.Len())
			}
			return out
		}
	}
}

func TestEncodeOrdersJoinsUserFirst(t *testing.T) {
	f, err := os.Open("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg := Config{
		Join: []Namespace{
			{Type: "time", Path: "/proc/9/ns/time", Of: "pid 9"},
			{Type: "mnt", Path: "/proc/9/ns/mnt"},
			{Type: "net", File: f, Of: "pid 9"},
			{Type: "user", Path: "/proc/9/ns/user", Of: "pid 9"},
		},
		CgroupProcs:         []string{"/sys/fs/cgroup/a/cgroup.procs"},
		Unshare:             unix.CLONE_NEWUTS,
		PreserveCredentials: true,
		NoFork:              true,
		TimeOffsets:         "monotonic 5 0",
	}
	b, err := cfg.encode(map[*os.File]int{f: 7})
	if err != nil {
		t.Fatal(err)
	}
	recs := decode(t, b)
	var order []string
	for _, r := range recs {
		if r.typ != recNamespace {
			continue
		}
		flag := binary.NativeEndian.Uint32(r.payload)
		fd := int32(binary.NativeEndian.Uint32(r.payload[4:]))
		strs := strings.Split(string(r.payload[8:]), "\x00")
		for name, f := range cloneFlags {
			if f == flag {
				order = append(order, name)
			}
		}
		switch flag {
		case unix.CLONE_NEWNET:
			if fd != 7 || strs[1] != "of pid 9" {
				t.Errorf("net record: fd %d, subject %q", fd, strs[1])
			}
		case unix.CLONE_NEWNS:
			if fd != -1 || strs[0] != "/proc/9/ns/mnt" || strs[1] != "/proc/9/ns/mnt" {
				t.Errorf("mnt record: fd %d, %q", fd, strs)
			}
		}
	}
	if got := strings.Join(order, ","); got != "user,net,mnt,time" {
		t.Errorf("join order %s, want user,net,mnt,time", got)
	}
	want := []uint32{recNamespace, recNamespace, recNamespace, recNamespace, recCgroup, recUnshare, recFlags, recTimensOffsets, recEnd}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d", len(recs), len(want))
	}
	for i, r := range recs {
		if r.typ != want[i] {
			t.Errorf("record %d is type %d, want %d", i, r.typ, want[i])
		}
	}
	if flags := binary.NativeEndian.Uint32(recs[6].payload); flags != flagPreserveCredentials|flagNoFork {
		t.Errorf("flags %b", flags)
	}
}

func TestEncodeRejects(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Join: []Namespace{{Type: "network", Path: "/x"}}}, `unknown type "network"`},
		{Config{Join: []Namespace{{Type: "net", Path: "/x"}, {Type: "net", Path: "/y"}}}, "net given twice"},
		{Config{Join: []Namespace{{Type: "net"}}}, "neither a path nor a file"},
		{Config{Join: []Namespace{{Type: "net", Path: "/x\x00y"}}}, "NUL"},
		{Config{Unshare: unix.CLONE_VM}, "are not namespaces"},
		{Config{CgroupProcs: make([]string, maxCgroups+1)}, "at most"},
	} {
		if _, err := tc.cfg.encode(nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("encode(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestSpecType(t *testing.T) {
	for spec, want := range map[specs.LinuxNamespaceType]string{
		specs.NetworkNamespace: "net", specs.MountNamespace: "mnt", specs.UserNamespace: "user",
		specs.PIDNamespace: "pid", specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts",
		specs.CgroupNamespace: "cgroup", specs.TimeNamespace: "time",
	} {
		if got, ok := SpecType(spec); !ok || got != want {
			t.Errorf("SpecType(%s) = %q, %v", spec, got, ok)
		}
		if _, ok := CloneFlag(want); !ok {
			t.Errorf("CloneFlag(%s) unknown", want)
		}
	}
}

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		script string
		want   int
	}{
		{"exit 0", 0}, {"exit 3", 3}, {"kill -TERM $$", 128 + 15},
	} {
		cmd := exec.Command("/bin/sh", "-c", tc.script)
		cmd.Run()
		if got := ExitCode(cmd.ProcessState); got != tc.want {
			t.Errorf("%s: ExitCode = %d, want %d", tc.script, got, tc.want)
		}
	}
}

func TestExecStatus(t *testing.T) {
	for err, want := range map[error]int{unix.ENOENT: 127, unix.ENOTDIR: 127, unix.EACCES: 126, unix.ENOEXEC: 126, unix.ETXTBSY: 126} {
		if got := execStatus(err); got != want {
			t.Errorf("execStatus(%v) = %d, want %d", err, got, want)
		}
	}
}

// TestEncodeInitAndCallerJoins: a container init's plan travels as one record after the
// others; with CallerJoinsCgroups the constructor is told no cgroup to join (the caller has).
func TestEncodeInitAndCallerJoins(t *testing.T) {
	cfg := Config{CgroupProcs: []string{"/sys/fs/cgroup/a/cgroup.procs"}, CallerJoinsCgroups: true,
		Unshare: unix.CLONE_NEWNS, Init: []byte("plan\x00bytes")}
	b, err := cfg.encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	recs := decode(t, b)
	var types []uint32
	for _, r := range recs {
		types = append(types, r.typ)
	}
	if len(recs) != 3 || recs[0].typ != recUnshare || recs[1].typ != recInit || string(recs[1].payload) != "plan\x00bytes" || recs[2].typ != recEnd {
		t.Fatalf("records %v, want unshare, init, end", types)
	}
	cfg.CallerJoinsCgroups = false
	if b, _ = cfg.encode(nil); decode(t, b)[0].typ != recCgroup {
		t.Errorf("without CallerJoinsCgroups the constructor joins the cgroups itself")
	}
}
