package tui_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/glassbox/glassbox/test/fixture"
)

// TestWorkbenchRunShellDetach is the walk: run a busybox container from the run
// dialog, open its console in the Shell tab, type a command and see its output in the pane,
// leave with ctrl-p ctrl-q, quit; the container still runs and its console output is in its
// log for the CLI.
func TestWorkbenchRunShellDetach(t *testing.T) {
	fixture.NeedRoot(t)
	bin := fixture.Glassbox(t)
	fixture.Need(t, exec.Command(bin, "run", "--help").Run() == nil, "this build's engine has no container verbs (the lifecycle work)")
	reg := fixture.StartRegistry(t)
	ref := reg.MustPush(t, "tui/shell:e2e", fixture.MustBusybox(t, fixture.WithCmd("sh")))
	root := t.TempDir()
	if out, err := exec.Command(bin, "--root", root, "pull", ref).CombinedOutput(); err != nil {
		t.Fatalf("pull: %v\n%s", err, out)
	}
	name := fmt.Sprintf("tui-e2e-%d", os.Getpid())
	t.Cleanup(func() { _ = exec.Command(bin, "--root", root, "rm", "-f", name).Run() })

	tm := startTerm(t, 120, 40, nil, bin, "--root", root)
	tm.waitFor("Containers 0")
	tm.send("r")
	tm.waitFor("Run a container", "tui/shell:e2e")
	tm.send("Tab")
	tm.typeText(name)
	tm.send("Enter")
	tm.waitFor("started "+name, "running")

	tm.send("8") // the Shell tab
	tm.waitFor("a attaches its console")
	tm.send("Right", "a")
	tm.send("Enter")
	tm.typeText("echo $((6*7))-from-pane")
	tm.send("Enter")
	// The typed line holds the expression; only the shell's answer holds 42.
	tm.waitFor("42-from-pane")
	tm.send("C-p", "C-q")
	tm.waitFor("r run container") // the list's footer again: the shell pane let go

	tm.send("q")
	if code := tm.exited(); code != 0 {
		t.Fatalf("the workbench exited %d:\n%s", code, tm.screen())
	}
	// `ps` lists running containers only, as docker's does.
	out, err := exec.Command(bin, "--root", root, "ps").CombinedOutput()
	if err != nil || !strings.Contains(string(out), name) {
		t.Fatalf("after quitting, %s is not running: %v\n%s", name, err, out)
	}
	logs, err := exec.Command(bin, "--root", root, "logs", name).CombinedOutput()
	if err != nil || !strings.Contains(string(logs), "42-from-pane") {
		t.Errorf("the console output typed in the pane is not in the container's log: %v\n%s", err, logs)
	}
}
