package nsenter

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox/glassbox/engine/runtime/seccomp"
)

// applySeccomp installs the container's seccomp filter on every thread of the helper (the Go
// half; execc.c installs the exported program in the C half).
func applySeccomp(cfg *specs.LinuxSeccomp) error {
	return seccomp.Apply(cfg)
}
