package sched

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestAttr(t *testing.T) {
	for _, tc := range []struct {
		s    specs.Scheduler
		want string // error text, or "" for a policy number check
		pol  uint32
	}{
		{specs.Scheduler{Policy: specs.SchedFIFO, Priority: 10, Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork}}, "", 1},
		{specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 1e6, Deadline: 2e6, Period: 3e6}, "", 6},
		{specs.Scheduler{}, "f.policy: missing", 0},
		{specs.Scheduler{Policy: "SCHED_BOGUS"}, `f.policy: unknown policy "SCHED_BOGUS"`, 0},
		{specs.Scheduler{Policy: specs.SchedOther, Nice: -21}, "f.nice: -21", 0},
		{specs.Scheduler{Policy: specs.SchedBatch, Priority: 1}, "f.priority: only SCHED_FIFO", 0},
		{specs.Scheduler{Policy: specs.SchedRR, Runtime: 1}, "f: runtime, deadline and period are for SCHED_DEADLINE", 0},
		{specs.Scheduler{Policy: specs.SchedOther, Flags: []specs.LinuxSchedulerFlag{"X"}}, `f.flags[0]: unknown flag "X"`, 0},
	} {
		a, err := Attr("f", &tc.s)
		switch {
		case tc.want == "" && (err != nil || a.Policy != tc.pol || a.Size != 56 || len(Bytes(a)) != 56):
			t.Errorf("%+v: %+v, %v", tc.s, a, err)
		case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
			t.Errorf("%+v: error %v, want %q", tc.s, err, tc.want)
		}
	}
	if v, err := IOPrio("f", &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_RT, Priority: 3}); err != nil || v != 1<<13|3 {
		t.Errorf("IOPrio RT 3: %#x, %v", v, err)
	}
}
