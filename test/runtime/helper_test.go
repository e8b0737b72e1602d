package runtime_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/runtime"
)

// helperCreateEnv makes the test binary create a container and exit, as `glassbox oci create`
// does: STATEDIR:ID:BUNDLE. It prints the init's PID.
const helperCreateEnv = "GLASSBOX_RUNTIME_TEST_CREATE"

func helperCreate(v string) int {
	parts := strings.SplitN(v, ":", 3)
	r, err := runtime.New(runtime.Options{StateDir: parts[0]})
	if err == nil {
		var c *runtime.Container
		c, err = r.Create(context.Background(), parts[1], runtime.CreateOptions{Bundle: parts[2]})
		if err == nil {
			fmt.Println(c.Pid)
			return 0
		}
	}
	fmt.Fprintln(os.Stderr, err)
	return 1
}

// createDetached creates a container from a copy of the test binary, in a process that exits
// at once (the init outlives it, as after `oci create`). It returns the init's PID; the
// container is deleted at the end of the test.
func createDetached(t *testing.T, r *runtime.Runtime, stateDir, id, bundleDir string) int {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "runtime.test")
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(copyPath, os.O_CREATE|os.O_WRONLY, 0o755)
	if err == nil {
		_, err = io.Copy(out, in)
		out.Close()
	}
	in.Close()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(copyPath)
	cmd.Env = append(os.Environ(), helperCreateEnv+"="+stateDir+":"+id+":"+bundleDir)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("create in a helper: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("helper printed %q", b)
	}
	t.Cleanup(func() { r.Delete(id, true) })
	return pid
}

// waitGone waits until pid no longer exists (it is not our child: someone else reaps it).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for i := 0; i < 5000; i++ {
		if err := unix.Kill(pid, 0); err != nil {
			return
		}
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); strings.Contains(string(b), ") Z") {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("pid %d still there", pid)
}
