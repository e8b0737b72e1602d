//go:build linux && cgo

package seccomp

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestExportIsAProgram: Export gives whole struct sock_filter entries (8 bytes each) ending in
// a return, and the flags the spec names.
func TestExportIsAProgram(t *testing.T) {
	prog, flags, err := Export(&specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64},
		Flags:         []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog},
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdirat"}, Action: specs.ActErrno}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(prog) == 0 || len(prog)%8 != 0 {
		t.Fatalf("program of %d bytes", len(prog))
	}
	if last := prog[len(prog)-8:]; last[0] != 0x06 { // BPF_RET|BPF_K
		t.Errorf("last instruction %x is not a return", last)
	}
	if flags != 2 { // SECCOMP_FILTER_FLAG_LOG
		t.Errorf("flags = %#x, want SECCOMP_FILTER_FLAG_LOG", flags)
	}
	if p, _, err := Export(nil); p != nil || err != nil {
		t.Errorf("Export(nil) = %v, %v", p, err)
	}
}
