package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// The nsenter case enters a process in its own pid, mount, uts, ipc and net namespaces and runs
// true there: glassbox nsenter (re-executes itself, joins in its C constructor, forks into the
// PID namespace, starts Go, executes) against util-linux nsenter, the floor (one C process
// that joins, forks and executes). The `exec` case, glassbox exec vs runc exec, comes with
// containers.
func init() {
	register(Case{
		Name:    "nsenter",
		About:   "enter a process's namespaces and run true: glassbox nsenter -a vs util-linux nsenter -a",
		Rounds:  50,
		Prepare: prepareNsenter,
	})
}

func prepareNsenter(env *Env) ([]Contender, error) {
	unshare := exec.Command("unshare", "--fork", "--kill-child", "--pid", "--mount", "--uts", "--ipc", "--net", "--mount-proc",
		"sh", "-c", "echo ready && exec sleep 3600")
	out, err := unshare.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := unshare.Start(); err != nil {
		return nil, fmt.Errorf("unshare: %w", err)
	}
	env.Cleanup(func() {
		unshare.Process.Kill()
		unshare.Wait()
	})
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		return nil, fmt.Errorf("unshare: %q, %v", line, err)
	}
	children, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", unshare.Process.Pid, unshare.Process.Pid))
	if err != nil {
		return nil, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(children)))
	if err != nil {
		return nil, fmt.Errorf("target pid: %q", children)
	}
	env.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	target := strconv.Itoa(pid)
	env.Logf("target pid %s", target)

	contenders := []Contender{{
		Name: "glassbox nsenter -a",
		Role: Subject,
		Run:  func() error { return Command(env.Glassbox, "nsenter", "-t", target, "-a", "true") },
	}}
	floor := Contender{Name: "util-linux nsenter -a", Role: Floor}
	if path, err := exec.LookPath("nsenter"); err != nil {
		floor.Unavailable = "nsenter is not installed"
	} else {
		floor.Run = func() error { return Command(path, "-t", target, "-a", "true") }
	}
	return append(contenders, floor), nil
}
