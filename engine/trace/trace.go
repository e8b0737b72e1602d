// Package trace records the kernel steps of a container's create and start (clone flags,
// uid/gid map writes, cgroup writes, mounts, pivot_root, capability sets, seccomp, execve),
// each with its offset from the start and its duration. It is always on, so it must cost
// almost nothing: a step is two clock reads and an append.
package trace

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/glassbox/glassbox/internal/atomicfile"
)

// Step is one kernel step.
type Step struct {
	// Step names the function that took it: "clone", "uid_map", "cgroup", "mount",
	// "pivot_root", "mask", "capabilities", "seccomp", "execve"...
	Step string `json:"step"`
	// Detail is what was done in the kernel's words: flags, the file written and its value,
	// mount source, target, type, flags and data.
	Detail string `json:"detail"`
	// Start is the offset from the beginning of the create; Duration is how long it took.
	Start    time.Duration `json:"start_ns"`
	Duration time.Duration `json:"duration_ns"`
	// Pid is the process that took the step (the runtime parent or the container's init).
	Pid int    `json:"pid,omitempty"`
	Err string `json:"error,omitempty"`
}

// Recorder collects steps. A nil *Recorder records nothing, so callers never check.
type Recorder struct {
	origin time.Time
	pid    int
	mu     sync.Mutex
	steps  []Step
}

// New starts a recording whose offsets count from origin.
func New(origin time.Time) *Recorder {
	return &Recorder{origin: origin, pid: os.Getpid()}
}

// Origin is the time offsets count from.
func (r *Recorder) Origin() time.Time {
	if r == nil {
		return time.Time{}
	}
	return r.origin
}

// Begin starts a step; the returned function ends it, recording err if not nil.
//
//	done := rec.Begin("mount", "proc on /proc type proc")
//	err := unix.Mount(...)
//	done(err)
func (r *Recorder) Begin(step, detail string) func(err error) {
	if r == nil {
		return func(error) {}
	}
	began := time.Now()
	return func(err error) { r.Record(step, detail, began, err) }
}

// Record adds a step that began at began and ends now.
func (r *Recorder) Record(step, detail string, began time.Time, err error) {
	if r == nil {
		return
	}
	s := Step{Step: step, Detail: detail, Start: began.Sub(r.origin), Duration: time.Since(began), Pid: r.pid}
	if err != nil {
		s.Err = err.Error()
	}
	r.mu.Lock()
	r.steps = append(r.steps, s)
	r.mu.Unlock()
}

// Add merges steps recorded elsewhere (the container's init sends its own over the sync
// pipe; their Start offsets must already count from the same origin).
func (r *Recorder) Add(steps ...Step) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.steps = append(r.steps, steps...)
	r.mu.Unlock()
}

// Steps returns the steps so far, ordered by start.
func (r *Recorder) Steps() []Step {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	steps := append([]Step(nil), r.steps...)
	r.mu.Unlock()
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].Start < steps[j].Start })
	return steps
}

// WriteFile stores steps as JSON at path, atomically.
func WriteFile(path string, steps []Step) error {
	b, err := json.Marshal(steps)
	if err != nil {
		return err
	}
	// Atomic, no fsync: the trace is always on and must stay cheap; after a power loss the
	// container it describes is gone too.
	if err := atomicfile.WriteFile(path, b, 0o600, atomicfile.Atomic); err != nil {
		return fmt.Errorf("write trace %s: %w", path, err)
	}
	return nil
}

// ReadFile loads steps that WriteFile stored.
func ReadFile(path string) ([]Step, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read trace: %w", err)
	}
	var steps []Step
	if err := json.Unmarshal(b, &steps); err != nil {
		return nil, fmt.Errorf("read trace %s: %w", path, err)
	}
	return steps, nil
}
