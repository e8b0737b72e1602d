package main

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox/glassbox/engine/runtime/nsenter"
)

// setExecSecurity gives the exec'd process the user, capabilities, rlimits, no_new_privs and
// seccomp filter of its process spec, applied by nsenter right before execve.
func setExecSecurity(p *nsenter.Process, proc *specs.Process, spec *specs.Spec) {
	// Filled in when nsenter.Process grows its Security field (the exec helper's work).
}
