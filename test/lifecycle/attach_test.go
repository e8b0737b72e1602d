package lifecycle

import (
	"bufio"
	"os/exec"
	"strings"
	"testing"
)

// Several attachers at once: two reader-only attachers both see the container's output to its
// end and both get its exit status.
func TestSeveralAttachers(t *testing.T) {
	e := newEnv(t)
	n := name(t)
	e.Must("run", "-d", "--name", n, e.image, "sh", "-c",
		"trap 'echo bye-$((2*21)); exit 6' TERM; while true; do echo tick; sleep 0.05; done")
	type watch struct {
		cmd   *exec.Cmd
		lines *bufio.Scanner
	}
	var ws []watch
	for i := 0; i < 2; i++ {
		cmd := e.Command("attach", "--no-stdin", n)
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		w := watch{cmd, bufio.NewScanner(out)}
		if !w.lines.Scan() || w.lines.Text() != "tick" { // attached: output flows
			t.Fatalf("attacher %d saw %q", i, w.lines.Text())
		}
		ws = append(ws, w)
	}
	e.Must("kill", "-s", "TERM", n)
	for i, w := range ws {
		seen := false
		for w.lines.Scan() {
			seen = seen || w.lines.Text() == "bye-42"
		}
		err := w.cmd.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 6 || !seen {
			t.Fatalf("attacher %d: exit %v, saw the last line: %v", i, err, seen)
		}
	}
}

// events streams create, start, die and destroy for a --rm run.
func TestEvents(t *testing.T) {
	e := newEnv(t)
	ev := e.Command("events", "--format", "json")
	out, _ := ev.StdoutPipe()
	if err := ev.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ev.Process.Kill(); ev.Wait() })
	sc := bufio.NewScanner(out)
	// events starts at the end of the log: wait until a first run shows up, then run again.
	e.Must("run", "--rm", "--name", name(t)+"a", e.image, "true")
	n := name(t) + "b"
	e.Must("run", "--rm", "--name", n, e.image, "true")
	var actions []string
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `"name":"`+n+`"`) {
			continue
		}
		for _, a := range []string{"create", "start", "die", "destroy"} {
			if strings.Contains(line, `"Action":"`+a+`"`) {
				actions = append(actions, a)
			}
		}
		if len(actions) == 4 {
			break
		}
	}
	if strings.Join(actions, ",") != "create,start,die,destroy" {
		t.Fatalf("events for %s: %v", n, actions)
	}
}
