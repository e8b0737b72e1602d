//go:build linux && cgo

package seccomp

import (
	"fmt"
	"os"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// Supported reports whether this kernel can load seccomp filters: /proc/self/status has a
// Seccomp: line only with CONFIG_SECCOMP, and the filter mode needs CONFIG_SECCOMP_FILTER,
// which libseccomp probes (API level >= 1 means seccomp(2) or prctl filter mode works).
func Supported() bool {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil || !strings.Contains(string(status), "\nSeccomp:") {
		return false
	}
	api, err := libseccomp.GetAPI()
	return err == nil && api >= 1
}

// Version is the libseccomp library version this binary runs with, e.g. "2.5.4".
func Version() string {
	major, minor, micro := libseccomp.GetLibraryVersion()
	return fmt.Sprintf("%d.%d.%d", major, minor, micro)
}

// Features describes what Apply accepts, for `oci features` (runtime-spec features.md).
func Features() *features.Seccomp {
	enabled := Supported()
	f := &features.Seccomp{
		Enabled:   &enabled,
		Actions:   []string{},
		Operators: []string{},
		Archs:     []string{},
		KnownFlags: []string{
			"SECCOMP_FILTER_FLAG_TSYNC",
			string(specs.LinuxSeccompFlagSpecAllow),
			string(specs.LinuxSeccompFlagLog),
			string(specs.LinuxSeccompFlagWaitKillableRecv),
		},
		// WAIT_KILLABLE_RECV only matters for user notification, which Apply refuses.
		SupportedFlags: []string{
			"SECCOMP_FILTER_FLAG_TSYNC",
			string(specs.LinuxSeccompFlagSpecAllow),
			string(specs.LinuxSeccompFlagLog),
		},
	}
	for _, a := range []specs.LinuxSeccompAction{specs.ActAllow, specs.ActErrno, specs.ActKill,
		specs.ActKillProcess, specs.ActKillThread, specs.ActLog, specs.ActTrace, specs.ActTrap} {
		f.Actions = append(f.Actions, string(a))
	}
	for op := range operators {
		f.Operators = append(f.Operators, string(op))
	}
	for a := range archNames {
		f.Archs = append(f.Archs, string(a))
	}
	sort.Strings(f.Actions)
	sort.Strings(f.Operators)
	sort.Strings(f.Archs)
	return f
}
