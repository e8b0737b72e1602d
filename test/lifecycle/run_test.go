package lifecycle

import (
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/glassbox/glassbox/test/fixture"
)

func TestRunExitCodes(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"true"}, 0, ""},
		{[]string{"sh", "-c", "echo hello; exit 3"}, 3, "hello\n"},
		{[]string{"/nonexistent"}, 127, ""},
		{[]string{"/etc/passwd"}, 126, ""},
	}
	for _, c := range cases {
		r := e.Run(append([]string{"run", "--rm", e.image}, c.args...)...)
		if r.Code != c.code || (c.out != "" && r.Stdout != c.out) {
			t.Errorf("run %q: exit %d stdout %q stderr %q; want exit %d stdout %q", c.args, r.Code, r.Stdout, r.Stderr, c.code, c.out)
		}
	}
	if cs := e.ps(true); len(cs) != 0 {
		t.Errorf("--rm left %d containers", len(cs))
	}
	// Without --rm the record keeps docker's code for a program that is not there.
	n := name(t)
	r := e.Run("run", "--name", n, e.image, "nosuch")
	if r.Code != 127 || !strings.Contains(r.Stderr, `"nosuch"`) {
		t.Fatalf("run nosuch: %+v", r)
	}
	// Said once, as docker says it: not followed by the runtime's and the shim's kinds again.
	if want := `exec "nosuch": executable file not found in $PATH`; !strings.HasSuffix(strings.TrimSpace(r.Stderr), want) {
		t.Errorf("run nosuch says %q, want it to end with %q", r.Stderr, want)
	}
	if d := e.inspect(n); d.State.ExitCode != 127 || d.State.Running || d.State.Error == "" {
		t.Fatalf("inspect after a missing program: %+v", d.State)
	}
}

func TestDetachedLifecycle(t *testing.T) {
	e := newEnv(t)
	n := name(t)
	id := e.Must("run", "-d", "--name", n, e.image, "sh", "-c", "echo started; trap 'echo bye; exit 7' TERM; while true; do sleep 0.1; done")
	if len(id) != 64 {
		t.Fatalf("run -d printed %q, want an ID", id)
	}
	cs := e.ps(false)
	if len(cs) != 1 || cs[0].Name != n || cs[0].State != "running" || cs[0].Pid <= 0 {
		t.Fatalf("ps = %+v", cs)
	}
	waitFor(t, "log line", func() bool { return strings.Contains(e.Must("logs", n), "started") })
	d := e.inspect(n)
	if !d.State.Running || d.ShimPid <= 0 || d.GraphDriver.Data.UpperDir == "" || len(d.CgroupPaths) == 0 {
		t.Fatalf("inspect = %+v", d)
	}
	if tr := e.Must("trace", n); !strings.Contains(tr, "spawn shim") || !strings.Contains(tr, " create") || !strings.Contains(tr, " start") {
		t.Errorf("trace lacks the start's steps:\n%s", tr)
	}
	if r := e.Run("run", "-d", "--name", n, e.image, "true"); r.Code != 125 || !strings.Contains(r.Stderr, "already in use") {
		t.Fatalf("name conflict: %+v", r)
	}
	if cs := e.ps(true); len(cs) != 1 {
		t.Fatalf("a refused name left %d containers", len(cs))
	}
	e.Must("stop", "-t", "5", n)
	d = e.inspect(n)
	if d.State.Running || d.State.ExitCode != 7 {
		t.Fatalf("after stop: %+v", d.State)
	}
	if logs := e.Must("logs", n); !strings.Contains(logs, "bye") {
		t.Fatalf("logs after stop: %q", logs)
	}
	if got := e.Must("wait", n); got != "7" {
		t.Fatalf("wait = %q", got)
	}
	e.Must("rm", n)
	if cs := e.ps(true); len(cs) != 0 {
		t.Fatalf("rm left %+v", cs)
	}
	if r := e.Run("rm", n); r.Code == 0 {
		t.Fatal("rm of a removed container worked")
	}
}

// Two starts of one container at once: one starts it, the other is refused, and the
// container keeps running.
func TestConcurrentStarts(t *testing.T) {
	e := newEnv(t)
	n := name(t)
	e.Must("create", "--name", n, e.image, "sleep", "1000")
	results := make(chan fixture.Result, 2)
	for i := 0; i < 2; i++ {
		go func() { results <- e.Run("start", n) }()
	}
	a, b := <-results, <-results
	if (a.Code == 0) == (b.Code == 0) {
		t.Fatalf("two starts: %+v and %+v; want exactly one to succeed", a, b)
	}
	if cs := e.ps(false); len(cs) != 1 || cs[0].State != "running" {
		t.Fatalf("after two starts: %+v", cs)
	}
}

// A run whose reader falls far behind (its stdout is not read until the --rm container is
// gone) misses output beyond the shim's buffer but still exits with the container's code.
func TestRunSlowReaderKeepsExitCode(t *testing.T) {
	e := newEnv(t)
	n := name(t)
	cmd := e.Command("run", "--rm", "--name", n, e.image, "sh", "-c", "head -c 100000000 /dev/zero; exit 7")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(stdout, make([]byte, 1)); err != nil { // it runs
		t.Fatal(err)
	}
	waitFor(t, "the --rm container's removal", func() bool { return e.Run("inspect", n).Code != 0 })
	io.Copy(io.Discard, stdout)
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
		t.Fatalf("run with a slow reader: %v, want exit 7", err)
	}
}
