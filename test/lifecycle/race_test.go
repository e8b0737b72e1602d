package lifecycle

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// blockedOnLock says whether process pid waits for a file lock (/proc/locks marks a waiter
// with "->").
func blockedOnLock(pid int) bool {
	data, _ := os.ReadFile("/proc/locks")
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 5 && f[1] == "->" && f[5] == itoa(pid) {
			return true
		}
	}
	return false
}

// stop, kill and rm of a container whose start is half-way (its rootfs mounted, its shim not
// yet going) wait for the start and then act on a running container, instead of on the half
// state: stop and kill end it, rm refuses it as running.
func TestVerbsWaitForStart(t *testing.T) {
	e := newEnv(t)
	for _, verb := range [][]string{{"stop", "-t", "1"}, {"kill"}, {"rm"}} {
		n := name(t) + verb[0]
		e.Must("create", "--name", n, e.image, "sleep", "1000")
		start := e.Command("start", n)
		release := e.pausedAt(start, "start-mounted")
		var out strings.Builder
		cmd := e.Command(append(verb, n)...)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ended := make(chan error, 1)
		go func() { ended <- cmd.Wait() }()
		var err error
		waitFor(t, verb[0]+" to end or wait for the start", func() bool {
			select {
			case err = <-ended:
				ended <- err
				return true
			default:
				return blockedOnLock(cmd.Process.Pid)
			}
		})
		release()
		if serr := start.Wait(); serr != nil {
			t.Errorf("%s during a start: the start failed: %v", verb[0], serr)
		}
		err = <-ended
		if verb[0] == "kill" && err == nil {
			e.Must("wait", n) // the signal is on its way; stop waits for the end itself
		}
		d := e.inspect(n)
		switch verb[0] {
		case "stop", "kill":
			if err != nil || d.State.Running || d.State.ExitCode != 137 {
				t.Errorf("%s during a start: %v %q; after both the container is %+v", verb[0], err, out.String(), d.State)
			}
		case "rm":
			if err == nil || !strings.Contains(out.String(), "running") || !d.State.Running {
				t.Errorf("rm during a start: %v %q, want it refused as running; container %+v", err, out.String(), d.State)
			}
		}
		e.Run("rm", "-f", n)
	}
}

// A start and an rm (or rm -f) of one container at once, many times: whichever wins, nothing
// is left: no mount, cgroup, process, directory.
func TestStartRacingRemove(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for round := 0; round < 16; round++ {
		n := fmt.Sprintf("%s%d", name(t), round)
		id := e.Must("create", "--name", n, e.image, "sleep", "1000")
		ids = append(ids, id)
		rm := []string{"rm", n}
		if round%2 == 1 {
			rm = []string{"rm", "-f", n}
		}
		done := make(chan error, 2)
		for _, args := range [][]string{{"start", n}, rm} {
			cmd := e.Command(args...)
			go func() { done <- cmd.Run() }()
		}
		<-done
		<-done
		if r := e.Run("rm", "-f", n); r.Code != 0 && !strings.Contains(r.Stderr, "no such container") {
			t.Errorf("round %d: rm -f after the race: %+v", round, r)
		}
	}
	checkNothingLeft(t, e.root, ids, nil)
}

// A start whose CLI died (SIGKILL, a closed terminal's SIGHUP) after it handed the container
// to its shim releases start.lock while the shim goes on creating. An rm, or a second start,
// then must not act on the half-started container (rm took it out from under the shim; a
// second start spawned a second shim, which waited for the first's shim.lock as long as the
// container ran): each waits for the shim's start, then finds the container running.
func TestVerbsWaitForOrphanedStart(t *testing.T) {
	e := newEnv(t)
	for _, verb := range []string{"rm", "start"} {
		n := name(t) + verb
		id := e.Must("create", "--name", n, e.image, "sleep", "1000")
		start := e.Command("start", n)
		releaseShim := e.pausedAt(start, "shim-create")
		start.Process.Kill()
		start.Wait()
		cmd := e.Command(verb, n)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		releaseCmd := e.pausedAt(cmd, "orphaned-start") // it got there: it waits for the shim
		releaseCmd()
		releaseShim()
		err := cmd.Wait()
		if d := e.inspect(n); err == nil || !strings.Contains(out.String(), "running") || !d.State.Running {
			t.Errorf("%s during a start its CLI left: %v %q, want it refused as running; container %+v", verb, err, out.String(), d.State)
		}
		e.Must("rm", "-f", n)
		checkNothingLeft(t, e.root, []string{id}, nil)
	}
}
