package procfs

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// TestReadStat: this process's own stat reads as running with a start time; a command name
// with spaces and parentheses does not shift the fields; a reaped process is an error.
func TestReadStat(t *testing.T) {
	s, err := ReadStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.State() != 'R' && s.State() != 'S' {
		t.Errorf("own state %q", s.State())
	}
	if s.StartTime() == 0 || s.Ended() {
		t.Errorf("own start time %d, ended %v", s.StartTime(), s.Ended())
	}
	odd := Stat{"S", "1"}
	if odd.Field(4) != "1" || odd.Field(22) != "" || odd.StartTime() != 0 || odd.Field(2) != "" {
		t.Errorf("fields of a short reading: %q %q %d", odd.Field(4), odd.Field(22), odd.StartTime())
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadStat(cmd.Process.Pid); err == nil {
		t.Error("a reaped process's stat read without error")
	}
}

// TestStatCommandName: the fields are taken after the last ')', whatever the name holds.
func TestStatCommandName(t *testing.T) {
	dir := t.TempDir()
	name := dir + "/a) b ("
	if err := os.Symlink("/bin/sleep", name); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, "5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	s, err := ReadStat(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if st := s.State(); st != 'S' && st != 'R' {
		t.Errorf("state %q, want S or R", st)
	}
	if got, want := s.Field(4), strconv.Itoa(os.Getpid()); got != want {
		t.Errorf("parent (field 4) %q, want %s: the name shifted the fields", got, want)
	}
}
