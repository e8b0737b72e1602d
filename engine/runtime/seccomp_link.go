package runtime

import "github.com/glassbox/glassbox/engine/runtime/seccomp"

// The init loads the spec's seccomp filter through applySeccomp (runtime.go): libseccomp,
// on every thread (package seccomp).
func init() { applySeccomp = seccomp.Apply }
