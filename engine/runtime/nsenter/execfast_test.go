package nsenter

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func fastExec(t *testing.T) FastExec {
	cfg := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfg, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	return FastExec{
		InitPID: 100, InitStart: 12345, ShimPID: 99, ShimStart: 12300,
		ProcCgroup: []byte("0::/glassbox/x\n"), CgroupProcs: []string{"/sys/fs/cgroup/glassbox/x/cgroup.procs"},
		ID: strings.Repeat("a", 64), Name: "web", Image: "busybox", ConfigPath: cfg,
		Process: Process{Env: []string{"PATH=/bin", "A=1"}, Cwd: "/srv",
			Security: Security{User: &specs.User{UID: 1, GID: 2, AdditionalGids: []uint32{3}},
				Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_CHOWN"}}, NoNewPrivileges: true}},
	}
}

// TestFastExecEncode: the record is the magic, then records as execfast.c reads them: the key
// (struct fast_key, 120 bytes), the names, /proc/PID/cgroup, the cgroups, the exec records
// without arguments or descriptors, the end.
func TestFastExecEncode(t *testing.T) {
	f := fastExec(t)
	data, err := f.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, fastMagic) || len(fastMagic) != 16 {
		t.Fatalf("no magic: %q", data[:16])
	}
	recs := decode(t, data[len(fastMagic):])
	var types []uint32
	for _, r := range recs {
		types = append(types, r.typ)
	}
	want := []uint32{fastKey, fastID, fastName, fastImage, fastProcCgroup, fastSeccomp, recCgroup, recExec, recExecEnv, recExecEnv, recExecGroup, recEnd}
	if len(types) != len(want) {
		t.Fatalf("record types %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("record types %v, want %v", types, want)
		}
	}
	key := recs[0].payload
	if len(key) != 120 || binary.Size(fastKeyRecord{}) != 120 {
		t.Fatalf("key of %d bytes, want struct fast_key's 120", len(key))
	}
	if pid, start := binary.NativeEndian.Uint32(key[96:]), binary.NativeEndian.Uint64(key[104:]); pid != 100 || start != 12345 {
		t.Errorf("key: init pid %d start %d", pid, start)
	}
	exec := recs[7].payload
	if fds := exec[:12]; !bytes.Equal(fds, bytes.Repeat([]byte{0xff}, 12)) {
		t.Errorf("exec record descriptors %x, want -1 (the fast path sets its own)", fds)
	}
	if flags := binary.NativeEndian.Uint32(exec[12:]); flags != execUser|execCaps|execNNP {
		t.Errorf("exec flags %#x", flags)
	}
	if cwd := string(exec[68:]); cwd != "/srv\x00" {
		t.Errorf("cwd %q", cwd)
	}
}

// TestFastExecEncodeRefuses: a record the fast path could not check or read is not made.
func TestFastExecEncodeRefuses(t *testing.T) {
	for name, edit := range map[string]func(*FastExec){
		"no init start": func(f *FastExec) { f.InitStart = 0 },
		"no shim":       func(f *FastExec) { f.ShimPID = 0 },
		"NUL in name":   func(f *FastExec) { f.Name = "a\x00b" },
		"NUL in env":    func(f *FastExec) { f.Process.Env = []string{"A=\x00"} },
		"33 cgroups":    func(f *FastExec) { f.CgroupProcs = make([]string, 33) },
		"no config":     func(f *FastExec) { f.ConfigPath += ".missing" },
	} {
		f := fastExec(t)
		edit(&f)
		if _, err := f.Encode(); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
}
