package engine

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func writeConfig(t *testing.T, path string, proc *specs.Process, sc *specs.LinuxSeccomp) {
	t.Helper()
	data, err := json.Marshal(&specs.Spec{Version: "1.2.0", Process: proc, Linux: &specs.Linux{Seccomp: sc}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestExecSettingsCache: the first exec reads config.json, compiles its filter and keeps
// both; the next reads the cache (proved by a cache edited in place being served); a
// rewritten config.json or a damaged cache is read afresh, never served stale.
func TestExecSettingsCache(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "config.json")
	proc := &specs.Process{
		User: specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 20}, Username: "gb"},
		Env:  []string{"PATH=/bin", "HOME=/home/gb"}, Cwd: "/srv", NoNewPrivileges: true,
		Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_CHOWN", "CAP_KILL"}, Effective: []string{"CAP_KILL"},
			Permitted: []string{"CAP_KILL"}},
		Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 4096}},
	}
	filter := func(name string) *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86_64},
			Syscalls: []specs.LinuxSyscall{{Names: []string{name}, Action: specs.ActErrno}}}
	}
	writeConfig(t, config, proc, filter("mkdirat"))
	first, err := loadExecSettings(dir, config)
	if err != nil || len(first.seccomp) < 12 {
		t.Fatalf("first load: %d bytes of filter, %v", len(first.seccomp), err)
	}
	if !reflect.DeepEqual(first.process, proc) {
		t.Fatalf("process %+v, want %+v", first.process, proc)
	}
	cachePath := filepath.Join(dir, execCacheName)
	cached, err := os.ReadFile(cachePath)
	if err != nil || !bytes.Contains(cached, first.seccomp) {
		t.Fatalf("cache file: %v", err)
	}
	if st, _ := os.Stat(cachePath); st.Mode().Perm() != 0o600 {
		t.Errorf("cache mode %v, want 0600", st.Mode().Perm())
	}
	// The same cache with another working directory (same length) is what the next load
	// serves: it reads the cache, not config.json.
	edited := bytes.Replace(cached, []byte("/srv"), []byte("/opt"), 1)
	os.WriteFile(cachePath, edited, 0o600)
	second, err := loadExecSettings(dir, config)
	if err != nil || second.process.Cwd != "/opt" || !bytes.Equal(second.seccomp, first.seccomp) ||
		!reflect.DeepEqual(second.process.Capabilities, proc.Capabilities) || !reflect.DeepEqual(second.process.Rlimits, proc.Rlimits) {
		t.Fatalf("second load did not come from the cache: %+v, %v", second.process, err)
	}
	// A rewritten config.json (other times, other size) is read again.
	time.Sleep(10 * time.Millisecond)
	proc.Cwd = "/var/www"
	writeConfig(t, config, proc, filter("unlinkat"))
	third, err := loadExecSettings(dir, config)
	if err != nil || third.process.Cwd != "/var/www" || bytes.Equal(third.seccomp, first.seccomp) {
		t.Fatalf("a rewritten config.json was served from the cache: cwd %q, %v", third.process.Cwd, err)
	}
	// A damaged cache (cut short, or garbage) is rebuilt.
	good, _ := os.ReadFile(cachePath)
	for _, bad := range [][]byte{good[:len(good)-3], append(good[:len(good):len(good)], 0), []byte("garbage"), nil} {
		os.WriteFile(cachePath, bad, 0o600)
		got, err := loadExecSettings(dir, config)
		if err != nil || got.process.Cwd != "/var/www" || !bytes.Equal(got.seccomp, third.seccomp) {
			t.Fatalf("damaged cache %q: %+v, %v", bad, got.process, err)
		}
	}
	// No filter, no capabilities: none in the cache either.
	writeConfig(t, config, &specs.Process{Cwd: "/"}, nil)
	for i := 0; i < 2; i++ {
		got, err := loadExecSettings(dir, config)
		if err != nil || got.seccomp != nil || got.process.Capabilities != nil {
			t.Fatalf("load %d without a filter: %+v, %d bytes of filter, %v", i, got.process, len(got.seccomp), err)
		}
	}
	// A config.json that is no spec is an error.
	os.WriteFile(config, []byte(`{"process": 7}`), 0o600)
	if _, err := loadExecSettings(dir, config); err == nil {
		t.Fatal("a malformed config.json loaded")
	}
}
