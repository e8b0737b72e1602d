// Package sched turns a runtime-spec process's scheduler and I/O priority into the kernel's
// terms and applies them to the calling thread, as runc 1.2 does (libcontainer's
// setupScheduler and setupIOPriority): sched_setattr(2) with a struct sched_attr, and
// ioprio_set(2) with IOPRIO_WHO_PROCESS. The C init applies the same values (plan.go encodes
// the struct; initc_process.c calls the syscalls).
package sched

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// policies are sched(7)'s policies, linux/sched.h's numbers.
var policies = map[specs.LinuxSchedulerPolicy]uint32{
	specs.SchedOther: 0, specs.SchedFIFO: 1, specs.SchedRR: 2, specs.SchedBatch: 3,
	specs.SchedISO: 4, specs.SchedIdle: 5, specs.SchedDeadline: 6,
}

// flags are sched_setattr(2)'s SCHED_FLAG_*.
var flags = map[specs.LinuxSchedulerFlag]uint64{
	specs.SchedFlagResetOnFork: 0x01, specs.SchedFlagReclaim: 0x02, specs.SchedFlagDLOverrun: 0x04,
	specs.SchedFlagKeepPolicy: 0x08, specs.SchedFlagKeepParams: 0x10,
	specs.SchedFlagUtilClampMin: 0x20, specs.SchedFlagUtilClampMax: 0x40,
}

// ioClasses are ioprio_set(2)'s classes.
var ioClasses = map[specs.IOPriorityClass]int{specs.IOPRIO_CLASS_RT: 1, specs.IOPRIO_CLASS_BE: 2, specs.IOPRIO_CLASS_IDLE: 3}

// Attr returns s as a struct sched_attr, or an error naming the field (runc's validator's
// rules: a policy, nice in -20..19, a priority only for SCHED_FIFO and SCHED_RR, runtime,
// deadline and period only for SCHED_DEADLINE). field is where s is ("process.scheduler").
func Attr(field string, s *specs.Scheduler) (unix.SchedAttr, error) {
	a := unix.SchedAttr{Size: uint32(unsafe.Sizeof(unix.SchedAttr{}))}
	policy, ok := policies[s.Policy]
	switch {
	case s.Policy == "":
		return a, fmt.Errorf("%s.policy: missing", field)
	case !ok:
		return a, fmt.Errorf("%s.policy: unknown policy %q", field, s.Policy)
	case s.Nice < -20 || s.Nice > 19:
		return a, fmt.Errorf("%s.nice: %d is not in -20..19", field, s.Nice)
	case s.Priority != 0 && s.Policy != specs.SchedFIFO && s.Policy != specs.SchedRR:
		return a, fmt.Errorf("%s.priority: only SCHED_FIFO and SCHED_RR have a priority, not %s", field, s.Policy)
	case s.Priority < 0:
		return a, fmt.Errorf("%s.priority: %d is negative", field, s.Priority)
	case s.Policy != specs.SchedDeadline && s.Runtime+s.Deadline+s.Period != 0:
		return a, fmt.Errorf("%s: runtime, deadline and period are for SCHED_DEADLINE only, not %s", field, s.Policy)
	}
	a.Policy, a.Nice, a.Priority = policy, s.Nice, uint32(s.Priority)
	a.Runtime, a.Deadline, a.Period = s.Runtime, s.Deadline, s.Period
	for i, f := range s.Flags {
		v, ok := flags[f]
		if !ok {
			return a, fmt.Errorf("%s.flags[%d]: unknown flag %q", field, i, f)
		}
		a.Flags |= v
	}
	return a, nil
}

// Bytes is a in the kernel's layout, for the C init.
func Bytes(a unix.SchedAttr) []byte {
	b := make([]byte, 0, a.Size)
	b = binary.NativeEndian.AppendUint32(b, a.Size)
	b = binary.NativeEndian.AppendUint32(b, a.Policy)
	b = binary.NativeEndian.AppendUint64(b, a.Flags)
	b = binary.NativeEndian.AppendUint32(b, uint32(a.Nice))
	b = binary.NativeEndian.AppendUint32(b, a.Priority)
	b = binary.NativeEndian.AppendUint64(b, a.Runtime)
	b = binary.NativeEndian.AppendUint64(b, a.Deadline)
	b = binary.NativeEndian.AppendUint64(b, a.Period)
	b = binary.NativeEndian.AppendUint32(b, a.Util_min)
	b = binary.NativeEndian.AppendUint32(b, a.Util_max)
	return b
}

// IOPrio returns p as ioprio_set(2)'s value (class << 13 | level), or an error naming the
// field: a known class and a level in 0..7.
func IOPrio(field string, p *specs.LinuxIOPriority) (int, error) {
	class, ok := ioClasses[p.Class]
	if !ok {
		return 0, fmt.Errorf("%s.class: unknown class %q", field, p.Class)
	}
	if p.Priority < 0 || p.Priority > 7 {
		return 0, fmt.Errorf("%s.priority: %d is not in 0..7", field, p.Priority)
	}
	return class<<13 | p.Priority, nil
}

// Apply sets the calling thread's scheduling (its goroutine locked to it).
func Apply(a unix.SchedAttr) error {
	a.Size = uint32(unsafe.Sizeof(a))
	if err := unix.SchedSetAttr(0, &a, 0); err != nil {
		return fmt.Errorf("sched_setattr: %w", err)
	}
	return nil
}

// SetIOPrio sets the calling thread's I/O priority (IOPRIO_WHO_PROCESS 0: this thread, which
// its children inherit).
func SetIOPrio(v int) error {
	if _, _, errno := unix.Syscall(unix.SYS_IOPRIO_SET, 1, 0, uintptr(v)); errno != 0 {
		return fmt.Errorf("ioprio_set: %w", errno)
	}
	return nil
}
