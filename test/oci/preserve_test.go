package oci

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// listFDs is a shell that lists its own descriptors (ls forks: the shell's, not ls's).
var listFDs = []string{"sh", "-c", "ls /proc/$$/fd; true"}

// TestPreserveFDs: --preserve-fds N hands the caller's descriptors 3 to 3+N-1 to the
// container's process at the same numbers, on run, create and exec, as runc does; without it
// nothing beyond stdio reaches the process, whatever the caller has open.
func TestPreserveFDs(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	// extra opens two files the caller holds at 3 and 4.
	extra := func(name string) []*os.File {
		var files []*os.File
		for _, n := range []string{name + "-3", name + "-4"} {
			f, err := os.OpenFile(filepath.Join(dir, n), os.O_RDWR|os.O_CREATE, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			files = append(files, f)
		}
		return files
	}
	run := func(files []*os.File, args ...string) string {
		t.Helper()
		cmd := e.Command(args...)
		cmd.ExtraFiles = files
		r := e.RunCmd(cmd)
		if r.Code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.Code, r.Stderr)
		}
		return strings.Join(strings.Fields(r.Stdout), " ")
	}
	list := e.bundle(nil, listFDs...)
	if got := run(extra("none"), "run", "--bundle", list, containerID(t)+"-none"); got != "0 1 2" {
		t.Errorf("run without --preserve-fds: the process has descriptors %q, want only 0 1 2", got)
	}
	if got := run(extra("one"), "run", "--preserve-fds", "1", "--bundle", list, containerID(t)+"-one"); got != "0 1 2 3" {
		t.Errorf("run --preserve-fds 1: the process has descriptors %q, want 0 1 2 3", got)
	}
	// The descriptor is the caller's file: what the process writes there, the caller reads.
	write := e.bundle(nil, "sh", "-c", "echo through-3 >&3; echo through-4 >&4")
	run(extra("run"), "run", "--preserve-fds", "2", "--bundle", write, containerID(t)+"-run")
	for _, n := range []string{"run-3", "run-4"} {
		if b, _ := os.ReadFile(filepath.Join(dir, n)); strings.TrimSpace(string(b)) != "through-"+n[len(n)-1:] {
			t.Errorf("run --preserve-fds 2: %s holds %q", n, b)
		}
	}

	// create keeps them until start.
	id := containerID(t) + "-create"
	t.Cleanup(func() { e.Run("delete", "--force", id) })
	run(extra("create"), "create", "--preserve-fds", "1", "--bundle", write, id)
	e.Must("start", id)
	e.waitStatus(id, "stopped")
	if b, _ := os.ReadFile(filepath.Join(dir, "create-3")); strings.TrimSpace(string(b)) != "through-3" {
		t.Errorf("create --preserve-fds 1, start: fd 3's file holds %q", b)
	}
	e.Must("delete", id)

	sleeper := containerID(t) + "-exec"
	e.create(sleeper, e.bundle(nil, "sleep", "60"))
	e.Must("start", sleeper)
	if got := run(extra("exec-none"), append([]string{"exec", sleeper}, listFDs...)...); got != "0 1 2" {
		t.Errorf("exec without --preserve-fds: the process has descriptors %q, want only 0 1 2", got)
	}
	if got := run(extra("exec-two"), append([]string{"exec", "--preserve-fds", "2", sleeper}, listFDs...)...); got != "0 1 2 3 4" {
		t.Errorf("exec --preserve-fds 2: the process has descriptors %q, want 0 1 2 3 4", got)
	}
	// The same through exec's Go half (a scheduler takes the exec there).
	proc := specs.Process{Args: listFDs, Cwd: "/", Env: []string{"PATH=/bin"}, Scheduler: &specs.Scheduler{Policy: specs.SchedBatch}}
	data, _ := json.Marshal(proc)
	procFile := filepath.Join(dir, "process.json")
	if err := os.WriteFile(procFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := run(extra("exec-go"), "exec", "--preserve-fds", "1", "--process", procFile, sleeper); got != "0 1 2 3" {
		t.Errorf("exec --preserve-fds 1 (Go half): the process has descriptors %q, want 0 1 2 3", got)
	}
	// A descriptor the caller does not have is refused, not filled with glassbox's own.
	r := e.Run("run", "--preserve-fds", "1", "--bundle", list, containerID(t)+"-closed")
	wantCode(t, "run --preserve-fds 1 with nothing at 3", r, 1, "descriptor 3 is not open in the caller")
}

// The caller's preserved descriptors go to the container's process only: the hooks the
// runtime runs on the host (createRuntime, poststart, poststop) get their stdio and nothing
// else, as the startContainer hooks the init runs do.
func TestPreservedFDsReachNoHostHook(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	f, err := os.OpenFile(filepath.Join(dir, "preserved"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hook := func(name string) specs.Hook {
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "cat >/dev/null; exec >" + filepath.Join(dir, name) + "; ls /proc/$$/fd; true"}}
	}
	b := e.bundle(func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{hook("createRuntime")},
			Poststart: []specs.Hook{hook("poststart")}, Poststop: []specs.Hook{hook("poststop")}}
	}, "true")
	cmd := e.Command("run", "--preserve-fds", "1", "--bundle", b, containerID(t))
	cmd.ExtraFiles = []*os.File{f}
	if r := e.RunCmd(cmd); r.Code != 0 {
		t.Fatalf("run --preserve-fds 1 with host hooks: exit %d: %s", r.Code, r.Stderr)
	}
	for _, name := range []string{"createRuntime", "poststart", "poststop"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("the %s hook did not run: %v", name, err)
			continue
		}
		if fds := strings.Join(strings.Fields(string(got)), " "); fds != "0 1 2" {
			t.Errorf("the %s hook has descriptors %q, want only 0 1 2", name, fds)
		}
	}
}
