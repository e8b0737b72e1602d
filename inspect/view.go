package inspect

import (
	"errors"
	"fmt"
)

// ProcessView is everything inspect knows about one process. A section that could not be read
// is absent and its error is in Errors under the section's name; the process having gone
// midway shows there as well.
type ProcessView struct {
	Process    Process            `json:"process"`
	Container  *Container         `json:"container,omitempty"`
	Namespaces []Namespace        `json:"namespaces"`
	Cgroups    []CgroupMembership `json:"cgroups"`
	Security   *Security          `json:"security,omitempty"`
	Mounts     []Mount            `json:"mounts"`
	Processes  []*ProcNode        `json:"processes"` // the tree inside its PID namespace
	Network    *Network           `json:"network,omitempty"`
	Errors     map[string]string  `json:"errors,omitempty"`
}

// Inspect reads every view of pid. It fails only if the process cannot be read at all.
func (h Host) Inspect(pid int) (*ProcessView, error) {
	pr, err := h.Process(pid)
	if err != nil {
		return nil, err
	}
	v := &ProcessView{Process: pr, Errors: map[string]string{}}
	note := func(section string, err error) {
		if err != nil {
			v.Errors[section] = err.Error()
		}
	}
	v.Namespaces, err = h.Namespaces(pid)
	note("namespaces", err)
	v.Cgroups, err = h.Cgroups(pid)
	note("cgroups", err)
	sec, err := h.Security(pid)
	if err == nil {
		v.Security = &sec
	}
	note("security", err)
	v.Mounts, err = h.Mounts(pid)
	note("mounts", err)
	v.Processes, err = h.ProcessTree(pid)
	note("processes", err)
	v.Network, err = h.Network(pid)
	note("network", err)
	v.Container = h.Label(pid, nil)
	if len(v.Errors) == 0 {
		v.Errors = nil
	}
	return v, nil
}

// Gone reports whether err says the process or cgroup no longer exists.
func Gone(err error) bool { return errors.Is(err, ErrGone) }

// PIDError is returned for a PID that does not exist.
func PIDError(pid int) error { return fmt.Errorf("no such process %d: %w", pid, ErrGone) }
