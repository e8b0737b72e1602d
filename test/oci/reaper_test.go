package oci

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The annotation org.glassbox.init=reaper reaches `glassbox oci run` too, on the Go path and
// on the run cache's C path (whose plan is the one Go made): PID 1 is glassbox-init, the
// program its child, and the program's exit code the run's.
func TestOCIRunReaper(t *testing.T) {
	e, marks, id := newRunCacheTest(t)
	bundle := e.bundle(func(s *specs.Spec) {
		s.Annotations = map[string]string{"org.glassbox.init": "reaper"}
	}, "sh", "-c", "echo $$ $(cat /proc/1/comm); exit 6")
	for i, want := range []string{"go", "c"} {
		code, stdout, stderr, path := e.runMarked(marks, "--bundle", bundle, id)
		if path != want {
			t.Fatalf("run %d took the %q path, want %q (stderr %q)", i, path, want, stderr)
		}
		if code != 6 || strings.TrimSpace(stdout) != "2 glassbox-init" {
			t.Errorf("%s run with the reaper: exit %d, stdout %q, stderr %q; want 6 and \"2 glassbox-init\"", path, code, stdout, stderr)
		}
		e.stateGone(id)
		cgroupGone(t, id)
	}
}
