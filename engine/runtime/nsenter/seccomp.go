package nsenter

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox/glassbox/engine/runtime/seccomp"
)

// SeccompSupported says whether applySeccomp installs filters. The engine warns on exec
// while it is false: the program then runs without the container's filter.
const SeccompSupported = true

// applySeccomp installs the container's seccomp filter on every thread of the helper
// (libseccomp, TSYNC: package seccomp).
func applySeccomp(cfg *specs.LinuxSeccomp) error {
	return seccomp.Apply(cfg)
}
