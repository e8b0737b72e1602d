package oci

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestRunCacheSIGCHLDIgnored: a caller that ignores SIGCHLD (inherited through execve) gets
// the container's exit status from either path. With SIGCHLD ignored the kernel reaps the
// children unseen: a waitpid waits for all of them and fails, so the C run, which waits for
// its init itself, must leave such a run to Go (whose runtime catches SIGCHLD).
func TestRunCacheSIGCHLDIgnored(t *testing.T) {
	e, marks, id := newRunCacheTest(t)
	bundle := e.bundle(nil, "sh", "-c", "exit 3")
	for i := 0; i < 3; i++ {
		run := e.Command("run", "--bundle", bundle, id)
		// bash's trap '' sets SIG_IGN, which execve keeps (dash's does not for SIGCHLD).
		cmd := exec.Command("bash", append([]string{"-c", `trap "" CHLD; exec "$0" "$@"`}, run.Args...)...)
		cmd.Env = run.Env
		done := make(chan error, 1)
		before, _ := os.ReadFile(marks)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		var err error
		select {
		case err = <-done:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatalf("run %d with SIGCHLD ignored did not end", i)
		}
		after, _ := os.ReadFile(marks)
		path := strings.TrimSpace(strings.TrimPrefix(string(after), string(before)))
		if code := exitCode(err); code != 3 {
			t.Errorf("run %d with SIGCHLD ignored on the %q path: exit %d, want the container's 3", i, path, code)
		}
		e.stateGone(id)
		cgroupGone(t, id)
	}
}

// TestRunCacheSignalsAsGo: the container's process gets the same ignored and blocked signals
// from either path, whatever the caller ignored (here SIGPIPE, as many daemons do) or blocked.
func TestRunCacheSignalsAsGo(t *testing.T) {
	e, marks, id := newRunCacheTest(t)
	bundle := e.bundle(nil, "grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status")
	var outs []string
	for _, want := range []string{"go", "c"} {
		run := e.Command("run", "--bundle", bundle, id)
		cmd := exec.Command("bash", append([]string{"-c", `trap "" PIPE USR1 HUP INT QUIT TERM; exec "$0" "$@"`}, run.Args...)...)
		cmd.Env = run.Env
		before, _ := os.ReadFile(marks)
		out, err := cmd.Output()
		after, _ := os.ReadFile(marks)
		if path := strings.TrimSpace(strings.TrimPrefix(string(after), string(before))); path != want || err != nil {
			t.Fatalf("run on the %q path, want %q: %v", path, want, err)
		}
		outs = append(outs, string(out))
	}
	if outs[0] != outs[1] {
		t.Errorf("the container's signals differ:\ngo: %q\nc:  %q", outs[0], outs[1])
	}
}

// TestRunCacheNameAsGo: main.go takes the program name with filepath.Base, for which "runc/"
// is runc: `runc/ oci run ID` is then `oci oci run`, which Go refuses, and the C run must
// not run the cached container for it.
func TestRunCacheNameAsGo(t *testing.T) {
	e, marks, id := newRunCacheTest(t)
	bundle := e.bundle(nil, "true")
	for _, want := range []string{"go", "c"} {
		if _, _, stderr, path := e.runMarked(marks, "--bundle", bundle, id); path != want {
			t.Fatalf("run on the %q path, want %q: %s", path, want, stderr)
		}
	}
	cmd := exec.Command(e.bin, "oci", "--root", e.root, "run", "--bundle", bundle, id)
	cmd.Args[0] = "runc/"
	before, _ := os.ReadFile(marks)
	cmd.Run()
	after, _ := os.ReadFile(marks)
	if path := strings.TrimSpace(strings.TrimPrefix(string(after), string(before))); path == "c" {
		t.Errorf("argv[0] %q (runc to Go, so `oci oci run`) took the C run", cmd.Args[0])
	}
	e.stateGone(id)
}
