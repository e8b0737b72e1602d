package engine

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestSeccompProgramCache: the first exec compiles and keeps the filter, the next reads it
// back, and a profile that differs from the one cached is compiled afresh, never served stale.
func TestSeccompProgramCache(t *testing.T) {
	dir := t.TempDir()
	profile := func(name string) json.RawMessage {
		cfg := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86_64},
			Syscalls: []specs.LinuxSyscall{{Names: []string{name}, Action: specs.ActErrno}}}
		raw, _ := json.Marshal(cfg)
		return raw
	}
	rawA := profile("mkdirat")
	first, err := seccompProgram(dir, rawA)
	if err != nil || len(first) < 12 {
		t.Fatalf("compile: %d bytes, %v", len(first), err)
	}
	cached, err := os.ReadFile(filepath.Join(dir, "exec-seccomp.bpf"))
	if err != nil || !bytes.HasSuffix(cached, first) {
		t.Fatalf("cache file: %v", err)
	}
	// A cache whose program was tampered with but whose key matches is what is served:
	// prove the second call reads the file rather than compiling.
	marked := append(cached[:len(cached):len(cached)], 0, 0, 0, 0, 0, 0, 0, 0)
	os.WriteFile(filepath.Join(dir, "exec-seccomp.bpf"), marked, 0o600)
	second, err := seccompProgram(dir, rawA)
	if err != nil || len(second) != len(first)+8 {
		t.Fatalf("second call did not read the cache: %d bytes, %v", len(second), err)
	}
	other, err := seccompProgram(dir, profile("unlinkat"))
	if err != nil || bytes.Equal(other, second) || len(other) != len(first) {
		t.Fatalf("another profile was served the cached program (%d bytes), %v", len(other), err)
	}
	if _, err := seccompProgram(t.TempDir(), json.RawMessage(`{"defaultAction": 7}`)); err == nil {
		t.Fatal("a malformed profile compiled")
	}
}
