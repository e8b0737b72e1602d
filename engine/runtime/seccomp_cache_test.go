//go:build linux && cgo

package runtime

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox/glassbox/engine/runtime/nsenter"
)

// TestSeccompCache: a profile is compiled once into the cache and loaded from it after, the
// same bytes as a fresh compile; another profile gets its own entry; an entry cut short or
// made for another key is compiled again, not loaded.
func TestSeccompCache(t *testing.T) {
	dir := filepath.Join(t.TempDir(), seccompCacheDir)
	profile := func(name string) *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86_64},
			Syscalls: []specs.LinuxSyscall{{Names: []string{name}, Action: specs.ActErrno}}}
	}
	want, err := nsenter.ExportSeccomp(profile("mkdirat"))
	if err != nil {
		t.Fatal(err)
	}
	entries := func() []string {
		names, _ := filepath.Glob(filepath.Join(dir, "*"))
		return names
	}
	got, err := exportSeccomp(dir, profile("mkdirat"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("first export = %x, %v; want %x", got, err, want)
	}
	if e := entries(); len(e) != 1 {
		t.Fatalf("cache holds %v, want one entry", e)
	}
	entry := entries()[0]
	// A loaded entry is what the file says: change the program in place (keeping the key and
	// length) and the next export returns the changed bytes, proving it did not compile.
	data, _ := os.ReadFile(entry)
	marked := bytes.Clone(data)
	marked[len(marked)-1] ^= 0xff
	if err := os.WriteFile(entry, marked, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _ := exportSeccomp(dir, profile("mkdirat")); !bytes.Equal(got, marked[len(marked)-len(want):]) {
		t.Fatalf("the second export did not come from the cache")
	}
	for name, bad := range map[string][]byte{
		"cut short":   data[:len(data)-3],
		"empty":       nil,
		"another key": append([]byte{data[0] ^ 1}, data[1:]...),
	} {
		if err := os.WriteFile(entry, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := exportSeccomp(dir, profile("mkdirat")); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s entry: export = %x, %v; want a fresh compile", name, got, err)
		}
		if now, _ := os.ReadFile(entry); !bytes.Equal(now, data) {
			t.Errorf("%s entry was not written again whole", name)
		}
	}
	other, err := exportSeccomp(dir, profile("unlinkat"))
	if err != nil || bytes.Equal(other, want) {
		t.Fatalf("another profile: %x, %v", other, err)
	}
	if e := entries(); len(e) != 2 {
		t.Errorf("cache holds %v, want two entries", e)
	}
	if got, err := exportSeccomp("", profile("mkdirat")); err != nil || !bytes.Equal(got, want) {
		t.Errorf("no cache: %x, %v", got, err)
	}
}
