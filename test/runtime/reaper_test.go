package runtime_test

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox/glassbox/engine/runtime"
)

func withReaper(s *specs.Spec) {
	s.Annotations = map[string]string{runtime.InitAnnotation: runtime.InitReaper}
}

// The annotation gives the container glassbox-init as PID 1 and the program as its child,
// whose exit code is the init's.
func TestReaperAnnotation(t *testing.T) {
	r := newRuntime(t)
	res := run(t, r, bundle(t, "", withReaper, "sh", "-c", "echo $$ $(cat /proc/1/comm); exit 7"))
	if res.out != "2 glassbox-init\n" || res.status.ExitStatus() != 7 {
		t.Fatalf("with the reaper: output %q status %v, want \"2 glassbox-init\" and 7", res.out, res.status)
	}
}

// Without a PID namespace of its own the reaper is no PID 1: it is a child subreaper, so the
// program's orphans still come to it, and it reaps them.
func TestReaperWithoutPIDNamespace(t *testing.T) {
	r := newRuntime(t)
	script := `(sleep 100 &)
kids=$(cat /proc/$PPID/task/$PPID/children); echo "$kids"
for p in $kids; do [ $p != $$ ] && kill $p; done
while [ "$(cat /proc/$PPID/task/$PPID/children)" != "$$ " ]; do sleep 0.05; done
echo reaped`
	res := run(t, r, bundle(t, "", func(s *specs.Spec) {
		withReaper(s)
		var ns []specs.LinuxNamespace
		for _, n := range s.Linux.Namespaces {
			if n.Type != specs.PIDNamespace {
				ns = append(ns, n)
			}
		}
		s.Linux.Namespaces = ns
	}, "sh", "-c", script))
	lines := strings.Split(strings.TrimSpace(res.out), "\n")
	if res.status.ExitStatus() != 0 || len(lines) != 2 || len(strings.Fields(lines[0])) != 2 || lines[1] != "reaped" {
		t.Fatalf("an orphan under the reaper without a PID namespace: output %q status %v", res.out, res.status)
	}
}

// The Go init has no reaper: a spec that asks for one is refused, naming --init, rather than
// run without it; so is one the plan cannot say (the Go init would run it).
func TestReaperRefusedByGoInit(t *testing.T) {
	t.Run("GLASSBOX_INIT=go", func(t *testing.T) {
		t.Setenv("GLASSBOX_INIT", "go")
		createFails(t, newRuntime(t), bundle(t, "", withReaper, "true"), "--init (annotation org.glassbox.init=reaper): the reaper is part of the C init")
	})
	// A spec the plan cannot say would be refused the same way ("this container needs the Go
	// init"); create now refuses the last such spec (a start hook's timeout not above zero)
	// before the plan is built, so no valid spec reaches that refusal to test here.
}
