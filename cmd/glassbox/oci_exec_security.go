package main

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox/glassbox/engine/runtime/nsenter"
)

// setExecSecurity gives the exec'd process the user, capabilities, rlimits and no_new_privs
// of its process spec and the container's seccomp filter, which nsenter applies right before
// execve in runc's order (rlimits, bounding set, user, capabilities, no_new_privs, seccomp).
func setExecSecurity(p *nsenter.Process, proc *specs.Process, spec *specs.Spec) {
	user := proc.User
	p.Security = nsenter.Security{
		User:            &user,
		Capabilities:    proc.Capabilities,
		NoNewPrivileges: proc.NoNewPrivileges,
		Rlimits:         proc.Rlimits,
		ApparmorProfile: proc.ApparmorProfile,
		SelinuxLabel:    proc.SelinuxLabel,
		Scheduler:       proc.Scheduler,
		IOPriority:      proc.IOPriority,
	}
	if spec.Linux != nil {
		p.Security.Seccomp = spec.Linux.Seccomp
	}
}
