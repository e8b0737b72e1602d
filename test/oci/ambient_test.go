package oci

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestExecAmbientNotInheritable: `runc spec` writes ambient capabilities with no inheritable
// set, which the kernel will not raise (capabilities(7)); runc only warns, in its init and in
// exec, and so must glassbox's exec, on both its halves (C and Go: a scheduler takes an exec to
// the Go half). It failed with "raise ambient capability 5: operation not permitted".
func TestExecAmbientNotInheritable(t *testing.T) {
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	p := newPair(t, func(s *specs.Spec) {
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps, Ambient: caps}
	}, "sleep", "60")
	p.e.Must("start", p.id)
	p.r.Must("start", p.id)
	for who, cli := range map[string]interface {
		Must(args ...string) string
	}{"glassbox": p.e, "runc": p.r} {
		if out := cli.Must("exec", p.id, "grep", "CapEff", "/proc/self/status"); !strings.Contains(out, "CapEff:\t0000000020000420") {
			t.Errorf("%s exec: %q, want the three capabilities effective", who, out)
		}
	}
	proc := specs.Process{Args: []string{"grep", "CapEff", "/proc/self/status"}, Cwd: "/", Env: []string{"PATH=/bin"},
		Capabilities: &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps, Ambient: caps},
		Scheduler:    &specs.Scheduler{Policy: specs.SchedBatch}}
	data, _ := json.Marshal(proc)
	procFile := filepath.Join(t.TempDir(), "process.json")
	if err := os.WriteFile(procFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out := p.e.Must("exec", "--process", procFile, p.id); !strings.Contains(out, "CapEff:\t0000000020000420") {
		t.Errorf("glassbox exec (Go half): %q, want the three capabilities effective", out)
	}
}
