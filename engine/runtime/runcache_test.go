package runtime

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox/glassbox/engine/trace"
)

func TestPutCgroupSteps(t *testing.T) {
	leaf := "/sys/fs/cgroup/pids/glassbox/c1"
	step := func(detail string) trace.Step { return trace.Step{Step: "cgroup", Detail: detail} }
	write := func(file, value string) trace.Step { return step("write " + file + " " + strconv.Quote(value)) }
	tests := []struct {
		name   string
		steps  []trace.Step
		ok     bool
		values []string // the values kept for writes, in order
	}{
		{"leaf mkdir and writes", []trace.Step{step("mkdir " + leaf), write(leaf+"/pids.max", "77")}, true, []string{"77"}},
		{"a value with quotes and spaces", []trace.Step{write(leaf+"/devices.allow", `c 1:3 "rwm" x`)}, true, []string{`c 1:3 "rwm" x`}},
		{"other steps pass by", []trace.Step{{Step: "mount", Detail: "x"}, write(leaf+"/a", "1")}, true, []string{"1"}},
		{"a parent made", []trace.Step{step("mkdir /sys/fs/cgroup/pids/glassbox"), step("mkdir " + leaf)}, false, nil},
		{"a parent configured", []trace.Step{write("/sys/fs/cgroup/cpuset/glassbox/cpuset.cpus", "0-1")}, false, nil},
		{"a device program", []trace.Step{step("attach BPF_CGROUP_DEVICE program (9 instructions, 3 rules) to " + leaf)}, false, nil},
		{"a failed step", []trace.Step{{Step: "cgroup", Detail: "mkdir " + leaf, Err: "file exists"}}, false, nil},
		{"a malformed write", []trace.Step{step("write " + leaf + "/a 1")}, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			put := func(typ uint32, parts ...[]byte) {
				if typ == rcCgroupWrite {
					fields := bytes.Split(bytes.Join(parts, nil), []byte{0})
					got = append(got, string(fields[1]))
				}
			}
			str := func(v ...string) []byte {
				var out []byte
				for _, s := range v {
					out = append(append(out, s...), 0)
				}
				return out
			}
			run := runCacheRun{cgroupPaths: map[string]string{"pids": leaf}, steps: tt.steps}
			err := putCgroupSteps(run, nil, put, str)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok %v", err, tt.ok)
			}
			if tt.ok && !slices.Equal(got, tt.values) {
				t.Errorf("values %q, want %q", got, tt.values)
			}
		})
	}
}

// TestKeepRunCache: an entry is kept only for what runc.c can do, 0600, with its key first.
func TestKeepRunCache(t *testing.T) {
	bundle := t.TempDir()
	rootfs := filepath.Join(bundle, "rootfs")
	os.Mkdir(rootfs, 0o755)
	os.WriteFile(filepath.Join(bundle, "config.json"), []byte("{}"), 0o644)
	key, err := takeRunCacheKey(bundle)
	if err != nil {
		t.Fatal(err)
	}
	base := func() runCacheRun {
		return runCacheRun{id: "c1", rootfs: rootfs, plan: &plan{ops: []planOp{{code: opMark, step: "config", flags: opfTrace}}},
			spec:        &specs.Spec{Process: &specs.Process{}, Linux: &specs.Linux{}},
			cgroupPaths: map[string]string{"pids": "/sys/fs/cgroup/pids/glassbox/c1"}}
	}
	refused := []struct {
		name string
		edit func(*runCacheRun)
	}{
		{"the Go init", func(r *runCacheRun) { r.plan = nil }},
		{"a terminal", func(r *runCacheRun) { r.spec.Process.Terminal = true }},
		{"hooks", func(r *runCacheRun) {
			r.spec.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true"}}}
		}},
		{"a user namespace", func(r *runCacheRun) { r.nsenter.Unshare = 0x10000000 }},
		{"an idmapped mount", func(r *runCacheRun) {
			r.spec.Mounts = []specs.Mount{{Destination: "/m", Type: "bind", Source: "/tmp", Options: []string{"bind", "idmap"}}}
		}},
		{"a personality", func(r *runCacheRun) { r.spec.Linux.Personality = &specs.LinuxPersonality{Domain: "LINUX32"} }},
		{"a joined user namespace", func(r *runCacheRun) {
			r.spec.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.UserNamespace, Path: "/proc/1/ns/user"}}
		}},
	}
	for _, tt := range refused {
		rt := &Runtime{stateDir: t.TempDir()}
		run := base()
		tt.edit(&run)
		if err := rt.keepRunCache(key, run); err == nil {
			t.Errorf("%s: kept", tt.name)
		}
		if _, err := os.Stat(filepath.Join(rt.stateDir, runCacheDir, runCacheName(bundle))); !os.IsNotExist(err) {
			t.Errorf("%s: an entry was written (%v)", tt.name, err)
		}
	}

	rt := &Runtime{stateDir: t.TempDir()}
	if err := rt.keepRunCache(key, base()); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(rt.stateDir, runCacheDir, runCacheName(bundle))
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("entry %s: %v %v, want mode 0600", path, fi, err)
	}
	b, _ := os.ReadFile(path)
	var types []uint32
	for len(b) >= 8 {
		typ, n := binary.NativeEndian.Uint32(b), binary.NativeEndian.Uint32(b[4:])
		if int(n) > len(b)-8 {
			t.Fatalf("record %d runs past the end", typ)
		}
		types = append(types, typ)
		b = b[8+n:]
	}
	if len(b) != 0 || len(types) == 0 || types[0] != rcVersion {
		t.Fatalf("records %v (%d bytes left), want the version first", types, len(b))
	}
	have := map[uint32]int{}
	for _, typ := range types {
		have[typ]++
	}
	for _, typ := range []uint32{rcID, rcBundle, rcUID, rcNsenter, rcClone, rcState, rcStep, rcCgroupLeaf} {
		if have[typ] == 0 {
			t.Errorf("no record of type %d in %v", typ, types)
		}
	}
	if have[rcStat] != 3 || have[rcFile] != 2 {
		t.Errorf("key records: %d stats, %d files; want config.json, the binary, the rootfs and two files", have[rcStat], have[rcFile])
	}
}

func TestTrimRunCache(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 5; i++ {
		p := filepath.Join(dir, "run-"+strconv.Itoa(i))
		os.WriteFile(p, nil, 0o600)
		mod := time.Unix(1000+int64(i), 0)
		os.Chtimes(p, mod, mod)
	}
	trimRunCache(dir, 3)
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"run-2", "run-3", "run-4"}; !slices.Equal(names, want) {
		t.Errorf("left %v, want the newest %v", names, want)
	}
}

func TestPlainRun(t *testing.T) {
	io := IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	if !plainRun(CreateOptions{Bundle: "/b", IO: io, RunCache: true}) {
		t.Error("a plain run is not plain")
	}
	for _, o := range []CreateOptions{{NoPivot: true}, {NoNewKeyring: true}, {PidFile: "/p"}, {ConsoleSocket: "/s"}} {
		if plainRun(o) {
			t.Errorf("%+v is plain", o)
		}
	}
}
