package trace

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestRecorderOrdersAndStores(t *testing.T) {
	origin := time.Now()
	r := New(origin)
	done := r.Begin("mount", "proc on /proc type proc")
	time.Sleep(time.Millisecond)
	done(errors.New("EPERM"))
	r.Add(Step{Step: "clone", Detail: "CLONE_NEWPID", Start: 0, Duration: time.Microsecond, Pid: 1})
	steps := r.Steps()
	if len(steps) != 2 || steps[0].Step != "clone" || steps[1].Step != "mount" {
		t.Fatalf("steps = %+v, want clone then mount", steps)
	}
	if steps[1].Err != "EPERM" || steps[1].Duration < time.Millisecond || steps[1].Start < 0 {
		t.Errorf("mount step = %+v", steps[1])
	}
	path := filepath.Join(t.TempDir(), "trace.json")
	if err := WriteFile(path, steps); err != nil {
		t.Fatal(err)
	}
	back, err := ReadFile(path)
	if err != nil || len(back) != 2 || back[1] != steps[1] {
		t.Fatalf("read back %+v, %v", back, err)
	}
}

func TestNilRecorderIsANoOp(t *testing.T) {
	var r *Recorder
	r.Begin("x", "y")(nil)
	r.Add(Step{Step: "z"})
	if r.Steps() != nil {
		t.Fatal("nil recorder returned steps")
	}
}
