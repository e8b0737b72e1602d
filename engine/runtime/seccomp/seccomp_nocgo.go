//go:build !linux || !cgo

// Package seccomp loads runtime-spec seccomp filters; it needs cgo (libseccomp), and without
// it every filter is refused rather than silently skipped.
package seccomp

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// ErrUnsupported is wrapped by every error about what this build cannot do.
var ErrUnsupported = errors.New("not supported")

// Apply refuses any filter: this binary was built without cgo, so without libseccomp.
func Apply(cfg *specs.LinuxSeccomp) error {
	if cfg == nil {
		return nil
	}
	return fmt.Errorf("seccomp: built without cgo (libseccomp): %w", ErrUnsupported)
}

func Supported() bool { return false }

func Version() string { return "" }

func Features() *features.Seccomp {
	enabled := false
	return &features.Seccomp{Enabled: &enabled}
}

// Export refuses any filter, as Apply does.
func Export(cfg *specs.LinuxSeccomp) ([]byte, uint32, error) {
	if cfg == nil {
		return nil, 0, nil
	}
	return nil, 0, fmt.Errorf("seccomp: built without cgo (libseccomp): %w", ErrUnsupported)
}
