package tui

import "runtime"

// goarch is the OCI architecture of this binary, which is the host's.
func goarch() string { return runtime.GOARCH }
