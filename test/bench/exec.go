package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/glassbox/glassbox/test/fixture"
)

// The nsenter case enters a process in its own pid, mount, uts, ipc and net namespaces and runs
// true there: glassbox nsenter (re-executes itself, joins in its C constructor, forks into the
// PID namespace, starts Go, executes) against util-linux nsenter, the floor (one C process
// that joins, forks and executes). The exec case runs true in a running busybox container:
// glassbox exec into a glassbox container against runc exec into a runc container of the same
// image, with util-linux nsenter -a into the glassbox container's init as the floor.
func init() {
	register(Case{
		Name:    "exec",
		About:   "exec true in a running busybox container: glassbox exec vs runc exec vs util-linux nsenter -a",
		Rounds:  50,
		Prepare: prepareExec,
	})
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

func prepareExec(env *Env) ([]Contender, error) {
	reg := fixture.NewRegistry()
	env.Cleanup(reg.Close)
	img, err := fixture.Busybox()
	if err != nil {
		return nil, err
	}
	ref, err := reg.Push("busybox:latest", img)
	if err != nil {
		return nil, err
	}
	root := filepath.Join(env.Tmp, "exec-glassbox")
	gb := func(args ...string) *exec.Cmd {
		return exec.Command(env.Glassbox, append([]string{"--root", root}, args...)...)
	}
	env.Cleanup(func() {
		gb("rm", "-f", "bench-exec").Run()
		gb("gc").Run()
		fixture.UnmountUnder(root)
		os.RemoveAll(root)
	})
	if err := Command(env.Glassbox, "--root", root, "pull", "-q", ref); err != nil {
		return nil, err
	}
	if out, err := gb("run", "-d", "--name", "bench-exec", ref, "sleep", "3600").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("glassbox run -d: %w: %s", err, out)
	}
	out, err := gb("inspect", "bench-exec").Output()
	if err != nil {
		return nil, fmt.Errorf("glassbox inspect: %w", err)
	}
	var ds []struct{ State struct{ Pid int } }
	if err := json.Unmarshal(out, &ds); err != nil || len(ds) != 1 || ds[0].State.Pid <= 0 {
		return nil, fmt.Errorf("glassbox inspect: no pid: %v", err)
	}
	pid := strconv.Itoa(ds[0].State.Pid)
	env.Logf("glassbox container init pid %s", pid)

	// The first exec (Go's) leaves the record the next ones run from in the constructor,
	// without starting Go (engine/runtime/nsenter/execfast.c); say which path the timed ones take.
	if err := Command(env.Glassbox, "--root", root, "exec", "bench-exec", "true"); err != nil {
		return nil, err
	}
	trace := filepath.Join(env.Tmp, "exec-trace")
	probe := gb("exec", "bench-exec", "true")
	probe.Env = append(os.Environ(), "GLASSBOX_EXEC_TRACE="+trace)
	if out, err := probe.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("glassbox exec: %w: %s", err, out)
	}
	if path, _ := os.ReadFile(trace); string(path) != "c" {
		fmt.Fprintf(os.Stderr, "  warning: glassbox exec took the %q path, not the constructor's fast path\n", path)
	}

	contenders := []Contender{{
		Name: "glassbox exec", Role: Subject,
		Run: func() error { return Command(env.Glassbox, "--root", root, "exec", "bench-exec", "true") },
	}, {
		// Not a peer: glassbox's own Go path (GLASSBOX_EXEC=go), to show the fast path's gain.
		Name: "glassbox exec (Go path)", Role: Peer,
		Run: func() error {
			cmd := gb("exec", "bench-exec", "true")
			cmd.Env = append(os.Environ(), "GLASSBOX_EXEC=go")
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("glassbox exec (Go path): %w: %s", err, out)
			}
			return nil
		},
	}}
	runc := Contender{Name: "runc exec", Role: Peer}
	if reason := startRuncContainer(env); reason != "" {
		runc.Unavailable = reason
	} else {
		runc.Run = func() error { return Command("runc", "--root", runcExecRoot, "exec", runcExecID, "true") }
	}
	contenders = append(contenders, runc)
	floor := Contender{Name: "util-linux nsenter -a", Role: Floor}
	if path, err := exec.LookPath("nsenter"); err != nil {
		floor.Unavailable = "nsenter is not installed"
	} else {
		floor.Run = func() error { return Command(path, "-t", pid, "-a", "true") }
	}
	return append(contenders, floor), nil
}

var runcExecRoot, runcExecID string

// startRuncContainer runs `sleep 3600` from a bundle of the same busybox with runc create and
// start (no terminal: stdio is /dev/null); "" when it runs, else why not.
func startRuncContainer(env *Env) string {
	if _, err := exec.LookPath("runc"); err != nil {
		return "runc is not installed"
	}
	bundle := filepath.Join(env.Tmp, "exec-runc-bundle")
	if err := runcBundle(bundle); err != nil {
		return err.Error()
	}
	p := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(p)
	if err != nil {
		return err.Error()
	}
	var spec map[string]any
	if err := json.Unmarshal(data, &spec); err != nil {
		return err.Error()
	}
	spec["process"].(map[string]any)["args"] = []string{"sleep", "3600"}
	data, _ = json.Marshal(spec)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		return err.Error()
	}
	runcExecRoot = filepath.Join(env.Tmp, "exec-runc-state")
	runcExecID = fmt.Sprintf("gb-bench-exec-%d", os.Getpid())
	env.Cleanup(func() {
		exec.Command("runc", "--root", runcExecRoot, "delete", "-f", runcExecID).Run()
		os.RemoveAll(bundle)
	})
	// Without a terminal runc hands its own stdio to the container: a pipe here would be
	// held open by sleep, and waiting for its end would wait an hour. A file is not.
	log, err := os.Create(filepath.Join(env.Tmp, "runc-create.log"))
	if err != nil {
		return err.Error()
	}
	defer log.Close()
	create := exec.Command("runc", "--root", runcExecRoot, "create", "--bundle", bundle, runcExecID)
	create.Stdout, create.Stderr = log, log
	if err := create.Run(); err != nil {
		out, _ := os.ReadFile(log.Name())
		return fmt.Sprintf("runc create: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if err := Command("runc", "--root", runcExecRoot, "start", runcExecID); err != nil {
		return err.Error()
	}
	return ""
}
