package engine

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// TestExecKeeper runs this test binary as the keeper of a detached exec, as keepDetached
// does: the engine's init dispatches it (not the test framework), it drains the program's
// terminal (the program writes far more than a terminal buffers, and would block forever
// otherwise), and when the program ends it writes exec_die with the program's exit code, read
// from the zombie (this test, the parent, reaps it only afterwards).
func TestExecKeeper(t *testing.T) {
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatalf("no pty: %v", err)
	}
	defer master.Close()
	prog := exec.Command("sh", "-c", "head -c 300000 /dev/zero; exit 3")
	prog.Stdin, prog.Stdout, prog.Stderr = slave, slave, slave
	if err := prog.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	defer prog.Process.Kill()
	pidfd, err := unix.PidfdOpen(prog.Process.Pid, 0)
	if err != nil {
		t.Fatalf("pidfd_open: %v", err)
	}
	pf := os.NewFile(uintptr(pidfd), "pidfd")
	defer pf.Close()

	events := filepath.Join(t.TempDir(), "events.json")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	keeper := exec.Command(self, ExecKeeperEntry, events, strconv.Itoa(prog.Process.Pid), "c0ffee", "web", "busybox", "e1")
	keeper.Env = []string{execKeeperEnv}
	keeper.ExtraFiles = []*os.File{pf, master}
	out, err := keeper.CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Fatalf("keeper: %v: %s", err, out)
	}
	data, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	var ev Event
	if err := json.Unmarshal([]byte(strings.TrimSpace(string(data))), &ev); err != nil {
		t.Fatalf("events: %v: %s", err, data)
	}
	if ev.Action != "exec_die" || ev.ContainerID != "c0ffee" || ev.Attributes["execID"] != "e1" || ev.Attributes["exitCode"] != "3" {
		t.Errorf("keeper wrote %+v, want exec_die of e1 with exitCode 3", ev)
	}
	prog.Wait()
	if time.Since(ev.Time) > time.Minute {
		t.Errorf("event time %v", ev.Time)
	}
}
