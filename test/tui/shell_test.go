package tui_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

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
	cli := fixture.NewCLI(t, root)
	cli.Must("pull", ref)
	name := fmt.Sprintf("tui-e2e-%d", os.Getpid())
	t.Cleanup(func() { _ = cli.Command("rm", "-f", name).Run() })

	tm := startTerm(t, 120, 40, nil, bin, "--root", root)
	tm.waitFor("Containers 0")
	tm.send("r")
	tm.waitFor("Run a container", "tui/shell:e2e")
	tm.send("Tab")
	tm.typeText(name)
	tm.send("Enter")
	tm.waitFor("started "+name, "running")

	// x opens a shell exec'd in the container on a pty, in the Shell tab.
	tm.send("x")
	tm.waitFor("ctrl-p ctrl-q leave")
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
	if r := cli.Run("ps"); r.Code != 0 || !strings.Contains(r.Stdout, name) {
		t.Fatalf("after quitting, %s is not running: exit %d\n%s%s", name, r.Code, r.Stdout, r.Stderr)
	}

	// Reopen: the container is there, running, and its console attaches in the Shell tab.
	tm = startTerm(t, 120, 40, nil, bin, "--root", root)
	tm.waitFor(name, "running")
	tm.send("8") // the Shell tab
	tm.waitFor("a attaches its console")
	tm.send("Right", "a")
	tm.waitFor("ctrl-p ctrl-q leave")
	tm.send("Enter")
	tm.typeText("echo console-$((2+3))")
	tm.send("Enter")
	tm.waitFor("console-5")
	tm.send("C-p", "C-q")
	tm.waitFor("r run container")
	tm.send("q")
	if code := tm.exited(); code != 0 {
		t.Fatalf("the reopened workbench exited %d:\n%s", code, tm.screen())
	}
	if r := cli.Run("ps"); r.Code != 0 || !strings.Contains(r.Stdout, name) {
		t.Fatalf("after the second session, %s is not running: exit %d\n%s%s", name, r.Code, r.Stdout, r.Stderr)
	}
	// What was typed at the console is in the container's log for the CLI.
	if r := cli.Run("logs", name); r.Code != 0 || !strings.Contains(r.Stdout+r.Stderr, "console-5") {
		t.Errorf("the console output typed in the pane is not in the container's log: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
}

// TestWorkbenchHostView: H lists the machine's namespaces with another runtime's container (a
// plain unshare here), / filters them by its PID, and its Processes and Cgroups tabs open.
func TestWorkbenchHostView(t *testing.T) {
	fixture.NeedRoot(t)
	fixture.NeedBinary(t, "unshare")
	bin := fixture.Glassbox(t)
	// --kill-child: the cleanup's kill of unshare takes the sleep with it (it left a
	// sleep 300 behind, reparented to PID 1, on every run).
	cmd := exec.Command("unshare", "--fork", "--kill-child", "--pid", "--mount-proc", "sleep", "300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	// The sleep is unshare's child, PID 1 of the new pid namespace; its host PID names it.
	var sleepPID string
	for i := 0; i < 100 && sleepPID == ""; i++ {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
		sleepPID = strings.TrimSpace(string(b))
		time.Sleep(20 * time.Millisecond)
	}
	want := "pid " + sleepPID + " sleep 300"

	tm := startTerm(t, 160, 50, nil, bin, "--root", t.TempDir())
	tm.waitFor("Containers 0")
	tm.send("H")
	tm.waitFor("Host namespaces")
	// / filters the tree (a busy machine has more namespaces than rows): the sleep's PID keeps
	// its pid namespace, labelled with its runtime, and the namespaces above it.
	tm.send("/")
	tm.typeText(sleepPID)
	tm.send("Enter")
	tm.waitFor("unshare ", sleepPID+" sleep 300")
	// Walk down until the selection (the right box's title) is a namespace of the sleep.
	selected := func() string {
		first := strings.SplitN(tm.screen(), "\n", 3)[1]
		if i := strings.LastIndex(first, "╭─ "); i >= 0 {
			return first[i:]
		}
		return ""
	}
	// One row at a time, waiting for the title to follow the cursor before the next key.
	for i, prev := 0, selected(); i < 1000 && !strings.Contains(prev, want); i++ {
		tm.send("j")
		for wait := 0; wait < 50; wait++ {
			if cur := selected(); cur != prev {
				prev = cur
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if !strings.Contains(selected(), want) {
		t.Fatalf("no namespace of the unshare'd sleep in the host view:\n%s", tm.screen())
	}
	tm.send("2") // Processes
	// PID 1 inside, its host PID beside it.
	tm.waitFor("HOST PID", "1        "+sleepPID, "sleep 300")
	tm.send("6") // Cgroups: the sleep's own cgroup, read live
	tm.waitFor("% of a core", "Memory ", "Pids ")
	tm.send("q")
	if code := tm.exited(); code != 0 {
		t.Errorf("exit %d", code)
	}
}
