package oci

import "testing"

// TestGoInit runs a representative subset of this package's tests with the Go init
// (GLASSBOX_INIT=go, inherited by the glassbox-oci processes); every other test runs the
// default C init (engine/runtime/plan.go).
func TestGoInit(t *testing.T) {
	t.Setenv("GLASSBOX_INIT", "go")
	for _, tc := range []struct {
		name string
		f    func(*testing.T)
	}{
		{"Lifecycle", TestLifecycle}, {"RunExitStatus", TestRunExitStatus}, {"Errors", TestErrors},
		{"ConsoleSocket", TestConsoleSocket}, {"ExecSecurity", TestExecSecurity}, {"PreserveFDs", TestPreserveFDs}, {"IDMappedMounts", TestIDMappedMounts}, {"SchedulerIOPriority", TestSchedulerIOPriority},
	} {
		t.Run(tc.name, tc.f)
	}
}
